/*
 * After a successful import, tell whoever deploys from the store (the
 * reconciler's webhook) that a bundle was published: a POST of
 * {"channel", "sequence", "bundle"} with an optional bearer token.
 */
#ifndef FERRY_IMPORT_NOTIFY_H
#define FERRY_IMPORT_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/**
 * POST the notification to `url`; `token` (or NULL) goes in an
 * Authorization: Bearer header. FERRY_EIO when the endpoint cannot be
 * reached or does not answer 2xx (the message names the URL and status).
 */
int ferry_import_notify(const char *url, const char *token, const char *channel,
			uint64_t sequence, const char *bundle_id);

#endif
