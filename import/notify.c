/*
 * Import notifications (see notify.h). Failures are reported, never fatal
 * to the import itself: the bundle is published, and the reconciler's
 * polling is the fallback for a missed notification.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "json.h"
#include "http.h"
#include "notify.h"
#include "banned.h"

int ferry_import_notify(const char *url, const char *token, const char *channel,
			uint64_t sequence, const char *bundle_id)
{
	ferry_http_options ho = FERRY_HTTP_OPTIONS_INIT;
	ferry_http_request req = { 0 };
	ferry_http_response res;
	ferry_http *h = NULL;
	ferry_buf auth = FERRY_BUF_INIT;
	const char *headers[3] = { "Content-Type: application/json", NULL, NULL };
	json_t *body = json_pack("{s:s,s:I,s:s}", "channel", channel, "sequence",
				 (json_int_t)sequence, "bundle", bundle_id);
	char *text = body ? ferry_json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int error;

	memset(&res, 0, sizeof(res));
	json_decref(body);
	if (!text)
		return ferry_error_oom();
	ho.connect_timeout_s = 5;
	ho.stall_timeout_s = 10;
	ho.max_retries = 2;
	if (token && (error = ferry_buf_printf(&auth, "Authorization: Bearer %s", token)) < 0)
		goto done;
	headers[1] = token ? auth.ptr : NULL;
	req.url = url;
	req.headers = headers;
	req.post = text;
	req.post_len = strlen(text);
	req.limit = 64 * 1024;
	if ((error = ferry_http_new(&h, &ho)) < 0 || (error = ferry_http_get(&res, h, &req)) < 0)
		goto done;
	if (res.status < 200 || res.status > 299)
		error = ferry_error_set(FERRY_EIO, "notify '%s': HTTP %ld", url, res.status);
done:
	ferry_http_response_dispose(&res);
	ferry_http_free(h);
	if (auth.ptr)
		memset(auth.ptr, 0, auth.size);
	ferry_buf_dispose(&auth);
	free(text);
	return error;
}
