/*
 * The mirror's responses: every answer is queued here, which records its
 * status and size for the access log and the metrics and adds the
 * distribution API's version header; OCI error bodies and plain text.
 */
#include <stdio.h>
#include <string.h>

#include "private.h"
#include "banned.h"

enum MHD_Result ferry_mirror__send(struct MHD_Connection *c, ferry_request *r,
				   unsigned status, struct MHD_Response *resp,
				   uint64_t bytes)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Docker-Distribution-API-Version", "registry/2.0");
	r->status = status;
	r->bytes = bytes;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result ferry_mirror__error(struct MHD_Connection *c, ferry_request *r,
				    unsigned status, const char *code,
				    const char *message)
{
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}\n", code,
			 message);
	struct MHD_Response *resp =
		MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Basic realm=\"ferry\"");
	if (status == 429 || status == 503)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
					status == 429 ? "1" : "5");
	return ferry_mirror__send(c, r, status, resp, (uint64_t)n);
}

enum MHD_Result ferry_mirror__busy(struct MHD_Connection *c, ferry_request *r,
				   const char *message)
{
	return ferry_mirror__error(c, r, 503, "UNAVAILABLE", message);
}

enum MHD_Result ferry_mirror__text(struct MHD_Connection *c, ferry_request *r,
				   unsigned status, const char *body)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
								    MHD_RESPMEM_PERSISTENT);

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	return ferry_mirror__send(c, r, status, resp, strlen(body));
}
