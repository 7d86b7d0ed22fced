#!/usr/bin/env bash
# deploy/template.yaml, the SAM template of the README's "Packaging for AWS Lambda": cfn-lint
# (offline: no network namespace) finds nothing wrong in it, and does find a broken copy's faults,
# so the check can fail; the README's `aws cloudformation package` step (against moto's S3, with a
# stand-in zip) uploads the zip CodeUri names and writes a template that lints clean; its DynamoDB tables have exactly the AWS Lambda Vertica loader's key
# schemas, and the function, key alias and policy are what the README says.
# test-timeout: 180
. "$(dirname "$0")/lib.sh"
. "$IT_DIR/lib_s3.sh"

cd "$REPO" || fail "no repository at $REPO"
command -v cfn-lint >/dev/null || fail "cfn-lint is not installed (make deps)"
# unshare -n: no network, so nothing is fetched (the tests run as root)
lint() { unshare -n cfn-lint "$@"; }

assert_exit 0 lint deploy/template.yaml
assert_eq "" "$OUT$ERR" "cfn-lint reports nothing for deploy/template.yaml"
sed -e 's/BillingMode: PAY_PER_REQUEST$/BilingMode: PAY_PER_REQUEST/' -e 's/Runtime: provided.al2023/Runtime: provided.al2025/' \
	deploy/template.yaml >"$WS/broken.yaml"
lint "$WS/broken.yaml" >"$WS/.out" 2>&1
rc=$?
OUT=$(<"$WS/.out")
[[ $rc != 0 ]] || fail "cfn-lint accepted a broken template: [$OUT]"
assert_contains "$OUT" "E3002" "cfn-lint names the misspelt property"
assert_contains "$OUT" "'BilingMode' was unexpected" "cfn-lint names the misspelt property"
assert_contains "$OUT" "E3030" "cfn-lint names the unknown runtime"
echo "REPORT cfn-lint $(cfn-lint --version | awk '{print $2}'): template clean; a broken copy fails (exit $rc)"

# The template's resources, as plain data (intrinsic functions become {"!Tag": value}).
ok "$PYTHON" - deploy/template.yaml <<'EOF'
import json, sys, yaml

class Loader(yaml.SafeLoader):
    pass

def tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    return {"!" + suffix: v}

Loader.add_multi_constructor("!", tag)
t = yaml.load(open(sys.argv[1]), Loader=Loader)
res = t["Resources"]
problems = []

def want(what, expected, got):
    if expected != got:
        problems.append("%s: expected %s, got %s" % (what, json.dumps(expected), json.dumps(got)))

def table(suffix):
    found = [(n, r) for n, r in res.items() if r["Type"] == "AWS::DynamoDB::Table"
             and r["Properties"]["TableName"] == {"!Sub": "${TablePrefix}" + suffix}]
    want("tables named ${TablePrefix}" + suffix, 1, len(found))
    name, r = found[0]
    want(name + " condition", "CreateTables", r.get("Condition"))
    want(name + " billing", "PAY_PER_REQUEST", r["Properties"]["BillingMode"])
    return name, r["Properties"]

def attrs(p):
    return sorted((a["AttributeName"], a["AttributeType"]) for a in p["AttributeDefinitions"])

def keys(ks):
    return [(k["AttributeName"], k["KeyType"]) for k in ks]

n, p = table("BatchLoadConfig")
want(n + " keys", [["s3Prefix", "HASH"]], [list(k) for k in keys(p["KeySchema"])])
want(n + " attributes", [["s3Prefix", "S"]], [list(a) for a in attrs(p)])
want(n + " indexes", None, p.get("GlobalSecondaryIndexes"))

n, p = table("Batches")
want(n + " keys", [["s3Prefix", "HASH"], ["batchId", "RANGE"]], [list(k) for k in keys(p["KeySchema"])])
want(n + " attributes", sorted([["s3Prefix", "S"], ["batchId", "S"], ["status", "S"], ["lastUpdate", "N"]]),
     [list(a) for a in attrs(p)])
gsis = p.get("GlobalSecondaryIndexes") or []
want(n + " index count", 1, len(gsis))
g = gsis[0]
want(n + " index name", {"!Sub": "${TablePrefix}BatchStatus"}, g["IndexName"])
want(n + " index keys", [["status", "HASH"], ["lastUpdate", "RANGE"]], [list(k) for k in keys(g["KeySchema"])])
want(n + " index projection", {"ProjectionType": "ALL"}, g["Projection"])

n, p = table("ProcessedFiles")
want(n + " keys", [["loadFile", "HASH"]], [list(k) for k in keys(p["KeySchema"])])
want(n + " attributes", [["loadFile", "S"]], [list(a) for a in attrs(p)])

want("UseExistingTables drives CreateTables", {"!Equals": [{"!Ref": "UseExistingTables"}, "false"]},
     t["Conditions"]["CreateTables"])
want("TablePrefix default", "LambdaVertica", t["Parameters"]["TablePrefix"]["Default"])

fn = [r for r in res.values() if r["Type"] == "AWS::Serverless::Function"]
want("functions", 1, len(fn))
f = fn[0]["Properties"]
for k, v in {"Runtime": "provided.al2023", "Handler": "bootstrap", "Timeout": 900,
             "CodeUri": "../dist/zload-lambda-x86_64.zip"}.items():
    want("function " + k, v, f[k])
env = f["Environment"]["Variables"]
want("ZLOAD_STATE", {"!Sub": "dynamodb://${AWS::Region}?tables=${TablePrefix}"}, env["ZLOAD_STATE"])
want("ZLOAD_SECRETS", "kms:alias/LambaVerticaLoaderKey", env["ZLOAD_SECRETS"])
want("ZLOAD_STORE", "s3://", env["ZLOAD_STORE"])
want("schedule", "rate(1 minute)", [e["Properties"]["Schedule"] for e in f["Events"].values() if e["Type"] == "Schedule"][0])

alias = [r for r in res.values() if r["Type"] == "AWS::KMS::Alias"]
want("key alias", ["alias/LambaVerticaLoaderKey"], [a["Properties"]["AliasName"] for a in alias])
esm = [r for r in res.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
want("SQS mapping reports partial failures", [["ReportBatchItemFailures"]], [m["Properties"]["FunctionResponseTypes"] for m in esm])

role = [r for r in res.values() if r["Type"] == "AWS::IAM::Role"][0]
stmts = [s for pol in role["Properties"]["Policies"] for s in pol["PolicyDocument"]["Statement"]]
for s in stmts:
    acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
    if any(a.endswith("*") for a in acts) or s.get("Resource") == "*":
        problems.append("wildcard in the function's policy: %s" % json.dumps(s))
kms = [s for s in stmts if "kms:Decrypt" in s["Action"]]
want("kms statements", 1, len(kms))
want("kms actions", ["kms:Decrypt", "kms:Encrypt"], sorted(kms[0]["Action"]))
want("kms condition", {"StringEquals": {"kms:EncryptionContext:module": "AWSLambdaVerticaLoader"}}, kms[0].get("Condition"))
ddb = [s for s in stmts if any(a.startswith("dynamodb:") for a in s["Action"])]
want("dynamodb resources", sorted([
    {"!Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}BatchLoadConfig"},
    {"!Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}Batches"},
    {"!Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}Batches/index/${TablePrefix}BatchStatus"},
    {"!Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${TablePrefix}ProcessedFiles"}],
    key=json.dumps), sorted([r for s in ddb for r in s["Resource"]], key=json.dumps))
sns = [s for s in stmts if s["Action"] == "sns:Publish"]
want("sns:Publish on the two topics", [[{"!Ref": "SuccessTopic"}, {"!Ref": "FailureTopic"}]], [s["Resource"] for s in sns])

if problems:
    print("\n".join(problems))
    sys.exit(1)
print("schemas ok")
EOF
assert_contains "$OUT" "schemas ok" "the template's tables, function and policy"
echo "REPORT the three tables' key schemas and the GSI are the original's; policy has no wildcards"

# The README's package step, in a copy of the tree holding a stand-in zip at the CodeUri path.
mkdir -p "$WS/tree/deploy" "$WS/tree/dist"
cp deploy/template.yaml "$WS/tree/deploy/"
echo stand-in >"$WS/bootstrap"
(cd "$WS" && zip -q "$WS/tree/dist/zload-lambda-x86_64.zip" bootstrap) || fail "cannot make the stand-in zip"
moto_start
awsc s3 mb s3://zload-artifacts >/dev/null || fail "cannot create the artifacts bucket"
# AWS_ENDPOINT_URL: the package command's uploader ignores --endpoint-url
(cd "$WS/tree" && AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT "$AWS" cloudformation package \
	--template-file deploy/template.yaml --s3-bucket zload-artifacts --output-template-file "$WS/packaged.yaml") \
	>"$WS/package.log" 2>&1 || fail "aws cloudformation package: $(tail -n 5 "$WS/package.log")"
code_uri=$(sed -n 's/^ *CodeUri: //p' "$WS/packaged.yaml")
[[ $code_uri == s3://zload-artifacts/* ]] || fail "the packaged CodeUri is [$code_uri]"
awsc s3 cp "$code_uri" "$WS/uploaded.zip" >/dev/null || fail "the packaged CodeUri $code_uri is not in the bucket"
cmp -s "$WS/uploaded.zip" "$WS/tree/dist/zload-lambda-x86_64.zip" || fail "the uploaded zip differs"
assert_exit 0 lint "$WS/packaged.yaml"
echo "REPORT aws cloudformation package uploads ../dist/zload-lambda-x86_64.zip; the packaged template lints clean"
echo "$TEST_NAME: ok"
