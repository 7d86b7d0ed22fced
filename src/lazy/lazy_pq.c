/* libpq, loaded on first use (lazy.h). */
#include "lazy/lazy.h"

#include <libpq-fe.h>

#define PQ_SYMS(X) X(PQclear) X(PQcmdStatus) X(PQcmdTuples) X(PQconnectdbParams) X(PQerrorMessage) X(PQexec) \
	X(PQexecParams) X(PQexecPrepared) X(PQfinish) X(PQgetResult) X(PQgetisnull) X(PQgetvalue) X(PQntuples) \
	X(PQprepare) X(PQputCopyData) X(PQputCopyEnd) X(PQresultErrorField) X(PQresultStatus) \
	X(PQsetNoticeProcessor) X(PQstatus) X(PQtransactionStatus) X(PQresultErrorMessage) X(PQescapeLiteral) \
	X(PQfreemem) X(PQsendQuery) X(PQreset) X(PQsocket) X(PQconsumeInput) X(PQisBusy) X(PQsetNoticeReceiver)

#define FIELD(name) __typeof__(name) *name;
static struct { PQ_SYMS(FIELD) } pq;
#define ENTRY(name) ZL_LAZY_SYM(pq, name),
static const zl_lazy_sym syms[] = { PQ_SYMS(ENTRY) };
static zl_lazy_lib lib = ZL_LAZY_LIB("libpq.so.5", "libpq5", syms);
#define P (zl_lazy_need(&lib), pq)

void PQclear(PGresult *res) { P.PQclear(res); }
char *PQcmdStatus(PGresult *res) { return P.PQcmdStatus(res); }
char *PQcmdTuples(PGresult *res) { return P.PQcmdTuples(res); }
PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
	return P.PQconnectdbParams(keywords, values, expand_dbname);
}
char *PQerrorMessage(const PGconn *conn) { return P.PQerrorMessage(conn); }
PGresult *PQexec(PGconn *conn, const char *query) { return P.PQexec(conn, query); }
PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                       const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                       int resultFormat)
{
	return P.PQexecParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
PGresult *PQexecPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
                         const int *paramLengths, const int *paramFormats, int resultFormat)
{
	return P.PQexecPrepared(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat);
}
void PQfinish(PGconn *conn) { P.PQfinish(conn); }
PGresult *PQgetResult(PGconn *conn) { return P.PQgetResult(conn); }
int PQgetisnull(const PGresult *res, int tup_num, int field_num) { return P.PQgetisnull(res, tup_num, field_num); }
char *PQgetvalue(const PGresult *res, int tup_num, int field_num) { return P.PQgetvalue(res, tup_num, field_num); }
int PQntuples(const PGresult *res) { return P.PQntuples(res); }
PGresult *PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes)
{
	return P.PQprepare(conn, stmtName, query, nParams, paramTypes);
}
int PQputCopyData(PGconn *conn, const char *buffer, int nbytes) { return P.PQputCopyData(conn, buffer, nbytes); }
int PQputCopyEnd(PGconn *conn, const char *errormsg) { return P.PQputCopyEnd(conn, errormsg); }
char *PQresultErrorField(const PGresult *res, int fieldcode) { return P.PQresultErrorField(res, fieldcode); }
ExecStatusType PQresultStatus(const PGresult *res) { return P.PQresultStatus(res); }
PQnoticeProcessor PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
	return P.PQsetNoticeProcessor(conn, proc, arg);
}
ConnStatusType PQstatus(const PGconn *conn) { return P.PQstatus(conn); }
PGTransactionStatusType PQtransactionStatus(const PGconn *conn) { return P.PQtransactionStatus(conn); }
char *PQresultErrorMessage(const PGresult *res) { return P.PQresultErrorMessage(res); }
char *PQescapeLiteral(PGconn *conn, const char *str, size_t len) { return P.PQescapeLiteral(conn, str, len); }
void PQfreemem(void *ptr) { P.PQfreemem(ptr); }
int PQsendQuery(PGconn *conn, const char *query) { return P.PQsendQuery(conn, query); }
void PQreset(PGconn *conn) { P.PQreset(conn); }
int PQsocket(const PGconn *conn) { return P.PQsocket(conn); }
int PQconsumeInput(PGconn *conn) { return P.PQconsumeInput(conn); }
int PQisBusy(PGconn *conn) { return P.PQisBusy(conn); }
PQnoticeReceiver PQsetNoticeReceiver(PGconn *conn, PQnoticeReceiver proc, void *arg)
{
	return P.PQsetNoticeReceiver(conn, proc, arg);
}
