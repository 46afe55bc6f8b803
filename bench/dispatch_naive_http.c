/*
 * Benchmark-only model of pgsql-http's synchronous POST, for machines where the `http` extension
 * (postgresql-15-http) can't be installed: Debian 12's own archive doesn't carry it. Built by
 * bench/dispatch_run.sh into a temporary directory and loaded by absolute path; never installed.
 *
 * It does what pgsql-http's http() does for one POST, in the calling backend and the caller's transaction:
 * one libcurl easy handle kept for the session (so the TCP connection is reused, as with pgsql-http's
 * keep-alive), a blocking curl_easy_perform, the whole answer collected into memory, and the status and body
 * returned. Form fields are URL-encoded with libcurl, as pgsql-http's urlencode() does.
 *
 *   dispatch_naive.http_post_form(url text, userpwd text, form text[], OUT status int, OUT content text)
 *
 * form holds name, value, name, value, ...; userpwd is "user:password" for HTTP Basic auth.
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(dispatch_naive_http_post_form);

static CURL *session_handle = NULL;

static size_t
collect_body(char *data, size_t size, size_t count, void *target)
{
	appendBinaryStringInfo((StringInfo) target, data, (int) (size * count));
	return size * count;
}

/* Lets a query cancel or a shutdown stop a transfer, as pgsql-http does. */
static int
stop_on_interrupt(void *unused, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

static void
append_form(StringInfo out, CURL *handle, ArrayType *form)
{
	Datum	   *items;
	bool	   *nulls;
	int			count;

	deconstruct_array(form, TEXTOID, -1, false, TYPALIGN_INT, &items, &nulls, &count);
	if (count % 2 != 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("form must hold name, value pairs")));
	for (int i = 0; i < count; i++)
	{
		char	   *plain;
		char	   *escaped;

		if (nulls[i])
			ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("form items must not be null")));
		plain = TextDatumGetCString(items[i]);
		escaped = curl_easy_escape(handle, plain, 0);
		if (escaped == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("could not URL-encode a form item")));
		if (i > 0)
			appendStringInfoChar(out, i % 2 == 1 ? '=' : '&');
		appendStringInfoString(out, escaped);
		curl_free(escaped);
		pfree(plain);
	}
}

Datum
dispatch_naive_http_post_form(PG_FUNCTION_ARGS)
{
	char	   *url = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *userpwd = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ArrayType  *form = PG_GETARG_ARRAYTYPE_P(2);
	StringInfoData body;
	StringInfoData answer;
	struct curl_slist *headers;
	CURLcode	rc;
	long		status = 0;
	TupleDesc	desc;
	Datum		values[2];
	bool		isnull[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR, (errmsg("http_post_form must be declared with OUT status int, OUT content text")));

	if (session_handle == NULL)
	{
		if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || (session_handle = curl_easy_init()) == NULL)
			ereport(ERROR, (errmsg("could not initialise libcurl")));
	}
	else
		curl_easy_reset(session_handle);	/* keeps the connection cache */

	initStringInfo(&body);
	append_form(&body, session_handle, form);
	initStringInfo(&answer);
	headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");

	curl_easy_setopt(session_handle, CURLOPT_URL, url);
	curl_easy_setopt(session_handle, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
	curl_easy_setopt(session_handle, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(session_handle, CURLOPT_POST, 1L);
	curl_easy_setopt(session_handle, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(session_handle, CURLOPT_POSTFIELDSIZE, (long) body.len);
	curl_easy_setopt(session_handle, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(session_handle, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(session_handle, CURLOPT_WRITEDATA, &answer);
	curl_easy_setopt(session_handle, CURLOPT_TIMEOUT_MS, 5000L);	/* pgsql-http's default timeout */
	curl_easy_setopt(session_handle, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(session_handle, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(session_handle, CURLOPT_XFERINFOFUNCTION, stop_on_interrupt);

	rc = curl_easy_perform(session_handle);
	curl_slist_free_all(headers);
	/* The token must not outlive the call in the handle or in memory. */
	curl_easy_setopt(session_handle, CURLOPT_USERPWD, NULL);
	memset(userpwd, 0, strlen(userpwd));
	CHECK_FOR_INTERRUPTS();
	if (rc != CURLE_OK)
		ereport(ERROR, (errcode(ERRCODE_CONNECTION_FAILURE),
						errmsg("HTTP request failed: %s", curl_easy_strerror(rc))));
	curl_easy_getinfo(session_handle, CURLINFO_RESPONSE_CODE, &status);

	desc = BlessTupleDesc(desc);
	values[0] = Int32GetDatum((int32) status);
	values[1] = CStringGetTextDatum(answer.data);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, isnull)));
}
