/* The dir: store stays inside its root: symbolic links that lead outside are refused by head,
 * open_reader, list, put, copy_in_place and check (the look when an object is claimed) with a
 * message naming the key; links that stay inside work; a missing bucket is an error, an empty one
 * lists nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store_dir.h"
#include "util/strvec.h"

#define REFUSED ": refused: a symbolic link leads outside the store root"

typedef struct fixture {
	char base[64];
	char root[128];
	zl_store *store;
} fixture;

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void at(char *out, size_t n, const fixture *fx, const char *rel)
{
	snprintf(out, n, "%s/%s", fx->base, rel);
}

static void mkdir_at(const fixture *fx, const char *rel)
{
	char p[256];
	at(p, sizeof p, fx, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void file_at(const fixture *fx, const char *rel, const char *text)
{
	char p[256];
	at(p, sizeof p, fx, rel);
	put_file(p, text);
}

/* A link at rel leading to target; "@/" at the start of target stands for the base directory. */
static void link_at(const fixture *fx, const char *target, const char *rel)
{
	char p[256], t[256];
	at(p, sizeof p, fx, rel);
	if (strncmp(target, "@/", 2) == 0)
		at(t, sizeof t, fx, target + 2);
	else
		snprintf(t, sizeof t, "%s", target);
	assert_int_equal(symlink(t, p), 0);
}

static int setup(void **state)
{
	fixture *fx = calloc(1, sizeof *fx);
	zl_err err;
	char url[160];
	if (!fx)
		return -1;
	*state = fx;
	strcpy(fx->base, "/tmp/zl_store_dir_test_XXXXXX");
	if (!mkdtemp(fx->base))
		return -1;
	snprintf(fx->root, sizeof fx->root, "%s/store", fx->base);
	mkdir_at(fx, "outside");
	mkdir_at(fx, "outside/dir");
	file_at(fx, "outside/secret.csv", "id,v\n1,secret\n");
	file_at(fx, "outside/dir/x.csv", "id,v\n2,secret\n");
	mkdir_at(fx, "store");
	mkdir_at(fx, "store/b");
	mkdir_at(fx, "store/b/in");
	mkdir_at(fx, "store/b/sub");
	mkdir_at(fx, "store/empty");
	file_at(fx, "store/b/real.csv", "id,v\n1,real\n");
	file_at(fx, "store/b/sub/y.csv", "id,v\n3,y\n");
	file_at(fx, "store/b/.hidden.csv", "id,v\n");
	link_at(fx, "@/outside/secret.csv", "store/b/in/out.csv");     /* absolute, outside */
	link_at(fx, "../../../outside/secret.csv", "store/b/in/rel_out.csv"); /* relative, outside */
	link_at(fx, "@/outside/dir", "store/b/in/outdir");             /* a directory outside */
	link_at(fx, "../real.csv", "store/b/in/ok.csv");               /* relative, inside */
	link_at(fx, "@/store/b/real.csv", "store/b/in/abs_ok.csv");    /* absolute, inside */
	link_at(fx, "../../b/real.csv", "store/b/in/via_up.csv");      /* up to the root and back */
	link_at(fx, "../../../store/b/real.csv", "store/b/in/roundtrip.csv"); /* out and back in */
	link_at(fx, "../sub", "store/b/in/okdir");                     /* a directory inside */
	link_at(fx, "../nothing.csv", "store/b/in/dangling.csv");
	link_at(fx, "@/outside", "store/outb");                        /* a bucket outside */
	snprintf(url, sizeof url, "dir:%s", fx->root);
	if (zl_store_open(url, &fx->store, &err)) {
		fprintf(stderr, "open: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	fixture *fx = *state;
	if (!fx)
		return 0;
	zl_store_close(fx->store);
	if (fx->base[0])
		nftw(fx->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void assert_refused(int rc, const zl_err *err, const char *name)
{
	char want[512];
	snprintf(want, sizeof want, "%s" REFUSED, name);
	assert_int_equal(rc, ZL_EINVAL);
	assert_string_equal(err->msg, want);
}

static void test_head(void **state)
{
	fixture *fx = *state;
	zl_store *s = fx->store;
	zl_err err;
	zl_object o = { 0 };
	assert_refused(s->ops->head(s, "b", "in/out.csv", &o, &err), &err, "b/in/out.csv");
	assert_refused(s->ops->head(s, "b", "in/rel_out.csv", &o, &err), &err, "b/in/rel_out.csv");
	assert_refused(s->ops->head(s, "b", "in/outdir/x.csv", &o, &err), &err, "b/in/outdir/x.csv");
	assert_refused(s->ops->head(s, "outb", "secret.csv", &o, &err), &err, "outb/secret.csv");
	const char *inside[] = { "in/ok.csv", "in/abs_ok.csv", "in/via_up.csv", "in/roundtrip.csv", "real.csv" };
	for (size_t i = 0; i < sizeof inside / sizeof *inside; i++) {
		assert_int_equal(s->ops->head(s, "b", inside[i], &o, &err), 0);
		assert_string_equal(o.key, inside[i]);
		assert_int_equal(o.size, 12);
		zl_object_release(&o);
	}
	assert_int_equal(s->ops->head(s, "b", "in/okdir/y.csv", &o, &err), 0);
	zl_object_release(&o);
	assert_int_equal(s->ops->head(s, "b", "in/okdir", &o, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "b/in/okdir: not a regular file");
	assert_int_equal(s->ops->head(s, "b", "in/dangling.csv", &o, &err), ZL_ENOTFOUND);
	assert_int_equal(s->ops->head(s, "b", "missing.csv", &o, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "b/missing.csv: No such file or directory");
}

static ssize_t read_all(zl_reader *r, char *buf, size_t n)
{
	zl_err err;
	size_t got = 0;
	ssize_t k;
	while ((k = zl_reader_read(r, buf + got, n - 1 - got, &err)) > 0)
		got += (size_t)k;
	buf[got] = '\0';
	return k < 0 ? k : (ssize_t)got;
}

static void test_open_reader(void **state)
{
	fixture *fx = *state;
	zl_store *s = fx->store;
	zl_err err;
	zl_reader *r = NULL;
	char buf[256];
	assert_refused(s->ops->open_reader(s, "b", "in/out.csv", &r, &err), &err, "b/in/out.csv");
	assert_null(r);
	assert_refused(s->ops->open_reader(s, "b", "in/rel_out.csv", &r, &err), &err, "b/in/rel_out.csv");
	assert_refused(s->ops->open_reader(s, "b", "in/outdir/x.csv", &r, &err), &err, "b/in/outdir/x.csv");
	assert_int_equal(s->ops->open_reader(s, "b", "in/abs_ok.csv", &r, &err), 0);
	assert_int_equal(read_all(r, buf, sizeof buf), 12);
	assert_string_equal(buf, "id,v\n1,real\n");
	zl_reader_close(r);
	assert_int_equal(s->ops->open_reader(s, "b", "in/okdir/y.csv", &r, &err), 0);
	assert_int_equal(read_all(r, buf, sizeof buf), 9);
	zl_reader_close(r);
}

static void test_put_and_copy(void **state)
{
	fixture *fx = *state;
	zl_store *s = fx->store;
	zl_err err;
	char p[256];
	struct stat st;
	assert_refused(s->ops->put(s, "b", "in/outdir/new.csv", "x\n", 2, &err), &err, "b/in/outdir/new.csv");
	assert_refused(s->ops->put(s, "b", "in/outdir/deeper/new.csv", "x\n", 2, &err), &err,
	               "b/in/outdir/deeper/new.csv");
	assert_refused(s->ops->put(s, "b", "in/out.csv", "x\n", 2, &err), &err, "b/in/out.csv");
	assert_refused(s->ops->put(s, "outb", "new.csv", "x\n", 2, &err), &err, "outb/new.csv");
	at(p, sizeof p, fx, "outside/dir/new.csv");
	assert_int_equal(lstat(p, &st), -1);
	at(p, sizeof p, fx, "outside/dir/deeper");
	assert_int_equal(lstat(p, &st), -1);
	at(p, sizeof p, fx, "outside/new.csv");
	assert_int_equal(lstat(p, &st), -1);
	at(p, sizeof p, fx, "outside/secret.csv");
	assert_string_equal(slurp(p), "id,v\n1,secret\n");
	at(p, sizeof p, fx, "store/b/in/out.csv");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	assert_int_equal(s->ops->put(s, "b", "in/okdir/new.csv", "id\n7\n", 5, &err), 0);
	at(p, sizeof p, fx, "store/b/sub/new.csv");
	assert_string_equal(slurp(p), "id\n7\n");
	assert_int_equal(s->ops->put(s, "b", "fresh/deep/n.csv", "id\n8\n", 5, &err), 0);
	at(p, sizeof p, fx, "store/b/fresh/deep/n.csv");
	assert_string_equal(slurp(p), "id\n8\n");
	assert_int_equal(s->ops->put(s, "new-bucket", "n.csv", "id\n9\n", 5, &err), 0);

	assert_refused(s->ops->copy_in_place(s, "b", "in/out.csv", &err), &err, "b/in/out.csv");
	assert_refused(s->ops->copy_in_place(s, "b", "in/outdir/x.csv", &err), &err, "b/in/outdir/x.csv");
	at(p, sizeof p, fx, "outside/dir/x.csv");
	assert_string_equal(slurp(p), "id,v\n2,secret\n");
	assert_int_equal(s->ops->copy_in_place(s, "b", "real.csv", &err), 0);
	at(p, sizeof p, fx, "store/b/real.csv");
	assert_string_equal(slurp(p), "id,v\n1,real\n");
	assert_int_equal(s->ops->copy_in_place(s, "b", "missing.csv", &err), ZL_ENOTFOUND);
}

/* Collects "KEY SIZE" for objects and "refused BUCKET|KEY|MESSAGE" for refused entries. */
static int collect(void *ud, const zl_object *obj, const zl_err *refused)
{
	char line[1400];
	if (refused)
		snprintf(line, sizeof line, "refused %s|%s|%s", obj->bucket, obj->key, refused->msg);
	else
		snprintf(line, sizeof line, "%s/%s %lld", obj->bucket, obj->key, (long long)obj->size);
	return zl_strvec_push(ud, line);
}

static char *joined(const zl_strvec *v)
{
	static char buf[8192];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < v->n; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\n", v->v[i]);
	return buf;
}

static void test_list(void **state)
{
	fixture *fx = *state;
	zl_store *s = fx->store;
	zl_err err;
	zl_strvec v;
	zl_strvec_init(&v);
	assert_int_equal(s->ops->list(s, "b", "", collect, &v, &err), 0);
	assert_string_equal(joined(&v),
	                    "b/in/abs_ok.csv 12\n"
	                    "b/in/ok.csv 12\n"
	                    "refused b|in/out.csv|b/in/out.csv" REFUSED "\n"
	                    "refused b|in/outdir|b/in/outdir" REFUSED "\n"
	                    "refused b|in/rel_out.csv|b/in/rel_out.csv" REFUSED "\n"
	                    "b/in/roundtrip.csv 12\n"
	                    "b/in/via_up.csv 12\n"
	                    "b/real.csv 12\n"
	                    "b/sub/y.csv 9\n");
	zl_strvec_release(&v);

	/* A refused directory is reported to a prefix below it; other prefixes skip it. */
	zl_strvec_init(&v);
	assert_int_equal(s->ops->list(s, "b", "in/outdir/x", collect, &v, &err), 0);
	assert_string_equal(joined(&v), "refused b|in/outdir|b/in/outdir" REFUSED "\n");
	zl_strvec_release(&v);
	zl_strvec_init(&v);
	assert_int_equal(s->ops->list(s, "b", "su", collect, &v, &err), 0);
	assert_string_equal(joined(&v), "b/sub/y.csv 9\n");
	zl_strvec_release(&v);

	/* Every bucket: a bucket that is a link outside is refused, not listed. */
	zl_strvec_init(&v);
	assert_int_equal(s->ops->list(s, NULL, "in/o", collect, &v, &err), 0);
	assert_string_equal(joined(&v),
	                    "b/in/ok.csv 12\n"
	                    "refused b|in/out.csv|b/in/out.csv" REFUSED "\n"
	                    "refused b|in/outdir|b/in/outdir" REFUSED "\n"
	                    "refused outb||outb" REFUSED "\n");
	zl_strvec_release(&v);

	zl_strvec_init(&v);
	assert_refused(s->ops->list(s, "outb", "", collect, &v, &err), &err, "outb");
	assert_int_equal(v.n, 0);
	zl_strvec_release(&v);
}

static void test_list_missing_and_empty_bucket(void **state)
{
	fixture *fx = *state;
	zl_store *s = fx->store;
	zl_err err;
	zl_strvec v;
	zl_strvec_init(&v);
	assert_int_equal(s->ops->list(s, "nope", "", collect, &v, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "nope: no such bucket");
	assert_int_equal(s->ops->list(s, "nope", "some/prefix", collect, &v, &err), ZL_ENOTFOUND);
	assert_string_equal(err.msg, "nope: no such bucket");
	assert_int_equal(s->ops->list(s, "empty", "", collect, &v, &err), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(s->ops->list(s, "b", "no/such/prefix", collect, &v, &err), 0);
	assert_int_equal(v.n, 0);
	zl_strvec_release(&v);
}

/* The look when an object is claimed (check): refuses what head would refuse, as the entry is
 * now, also right after it looked at the same directory (its descriptor is kept): a file swapped
 * for a link leading out is refused at once, and a missing object is the load's business. */
static void test_check(void **state)
{
	fixture *fx = *state;
	zl_store *s = fx->store;
	zl_err err;
	char from[256], to[256];
	assert_int_equal(s->ops->check(s, "b", "in/out.csv", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "b/in/out.csv" REFUSED);
	assert_int_equal(s->ops->check(s, "b", "in/rel_out.csv", &err), ZL_EINVAL);
	assert_int_equal(s->ops->check(s, "b", "in/outdir/x.csv", &err), ZL_EINVAL);
	assert_int_equal(s->ops->check(s, "b", "in/ok.csv", &err), 0);
	assert_int_equal(s->ops->check(s, "b", "in/roundtrip.csv", &err), 0);
	assert_int_equal(s->ops->check(s, "b", "in/dangling.csv", &err), 0);
	assert_int_equal(s->ops->check(s, "b", "in/no_such.csv", &err), 0);
	assert_int_equal(s->ops->check(s, "b", "in/okdir", &err), 0);
	assert_int_equal(s->ops->check(s, "b", "in/../real.csv", &err), ZL_EINVAL); /* not a valid name */

	/* a file, looked at, then replaced by a link out (rename over it): refused on the next look */
	file_at(fx, "store/b/in/swap.csv", "id\n1\n");
	assert_int_equal(s->ops->check(s, "b", "in/swap.csv", &err), 0);
	link_at(fx, "@/outside/secret.csv", "store/b/in/swap.tmp");
	at(from, sizeof from, fx, "store/b/in/swap.tmp");
	at(to, sizeof to, fx, "store/b/in/swap.csv");
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(s->ops->check(s, "b", "in/swap.csv", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "b/in/swap.csv" REFUSED);
	/* and back to a file; then deleted: a missing object is not refused here */
	assert_int_equal(unlink(to), 0);
	file_at(fx, "store/b/in/swap.csv", "id\n2\n");
	assert_int_equal(s->ops->check(s, "b", "in/swap.csv", &err), 0);
	assert_int_equal(unlink(to), 0);
	assert_int_equal(s->ops->check(s, "b", "in/swap.csv", &err), 0);

	/* names with a newline: a file passes, a link out is refused, naming it */
	file_at(fx, "store/b/in/new\nline.csv", "id\n3\n");
	assert_int_equal(s->ops->check(s, "b", "in/new\nline.csv", &err), 0);
	link_at(fx, "@/outside/secret.csv", "store/b/in/out\nline.csv");
	assert_int_equal(s->ops->check(s, "b", "in/out\nline.csv", &err), ZL_EINVAL);
	assert_string_equal(err.msg, "b/in/out\nline.csv" REFUSED);
	/* a FIFO or a directory under the name cannot lead out: for the load to judge */
	at(from, sizeof from, fx, "store/b/in/fifo.csv");
	assert_int_equal(mkfifo(from, 0600), 0);
	assert_int_equal(s->ops->check(s, "b", "in/fifo.csv", &err), 0);
	assert_int_equal(s->ops->check(s, "b", "sub", &err), 0);
}

/* In a child whose openat2 fails with ENOSYS (a seccomp filter), the realpath fallback must
 * decide the same. Returns the number of failed checks. */
static int fallback_checks(zl_store *s)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof *f, f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 100;
	if (syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0) != -1 || errno != ENOSYS)
		return 101;
	zl_err err;
	zl_object o = { 0 };
	zl_reader *r = NULL;
	int bad = 0;
	bad += s->ops->head(s, "b", "in/out.csv", &o, &err) != ZL_EINVAL ||
	       strcmp(err.msg, "b/in/out.csv" REFUSED) != 0;
	bad += s->ops->head(s, "b", "in/outdir/x.csv", &o, &err) != ZL_EINVAL;
	bad += s->ops->open_reader(s, "b", "in/rel_out.csv", &r, &err) != ZL_EINVAL;
	bad += s->ops->put(s, "b", "in/outdir/new.csv", "x", 1, &err) != ZL_EINVAL;
	bad += s->ops->head(s, "b", "in/abs_ok.csv", &o, &err) != 0 || o.size != 12;
	zl_object_release(&o);
	bad += s->ops->open_reader(s, "b", "in/ok.csv", &r, &err) != 0;
	zl_reader_close(r);
	bad += s->ops->head(s, "b", "in/okdir/y.csv", &o, &err) != 0;
	zl_object_release(&o);
	zl_strvec v;
	zl_strvec_init(&v);
	bad += s->ops->list(s, "b", "in/", collect, &v, &err) != 0 || v.n != 7;
	zl_strvec_release(&v);
	return bad;
}

static void test_without_openat2(void **state)
{
	fixture *fx = *state;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_checks(fx->store));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_and_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_missing_and_empty_bucket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_openat2, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
