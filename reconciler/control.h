/*
 * The daemon's control socket: how `ferry reconcile sync`, `rollback`,
 * `down`, `suspend`, `resume` and `reload` reach a running daemon instead
 * of racing it with a second process and, perhaps, another version of the
 * config. A Unix socket in the state directory, mode 0600 (the daemon's
 * user and root only); one JSON object per line each way; the peer's uid
 * is read from the socket (SO_PEERCRED) and logged with the request.
 */
#ifndef FERRY_RECONCILER_CONTROL_H
#define FERRY_RECONCILER_CONTROL_H

#include <jansson.h>

/** The socket's name in the state directory. */
#define FERRY_CONTROL_SOCKET "control.sock"

/** The longest request line taken, in bytes. */
#define FERRY_CONTROL_MAX_REQUEST 4096

typedef struct ferry_control ferry_control;

/**
 * Answer one request: set `*reply` to a new JSON object (owned by the
 * caller) and return 0, or return a negative error code with the message
 * recorded (the peer then gets {"ok": false, "error": MESSAGE}). `request`
 * has been checked to be an object with a string "op". Runs on a thread of
 * its own; several may run at once.
 */
typedef int (*ferry_control_fn)(json_t **reply, json_t *request, unsigned peer_uid,
				void *payload);

/**
 * Read one request line (`len` bytes, no newline) into `*out` (owned by the
 * caller): a JSON object with a string "op". FERRY_EINVALID otherwise.
 */
int ferry_control_request_parse(json_t **out, const char *line, size_t len);

/** The longest operator name an actor carries. */
#define FERRY_CONTROL_OPERATOR_MAX 64

/** 1 when `name` may follow "operator:" in an actor: 1 to
 *  FERRY_CONTROL_OPERATOR_MAX letters, digits and . _ @ -; else 0. */
int ferry_control_operator_name_ok(const char *name);

/**
 * The actor a request acts as, into `buf`: its "actor" when that is
 * "operator:NAME" with NAME of 1 to 64 letters, digits and . _ @ - (what
 * `ferry reconcile` sends for the user who ran it), else
 * "operator:uid-UID" from the socket's peer. Never holds anything a
 * terminal or a log line would read as control. `len` >= 80.
 */
void ferry_control_actor(char *buf, size_t len, const json_t *request, unsigned peer_uid);

/**
 * Listen on `path` (a stale socket there is replaced: the caller must hold
 * the daemon's lock) and answer each connection on its own thread, at most
 * eight at a time. The socket is mode 0600, or 0660 owned by group `group`
 * when it is not -1 (the console's group). FERRY_EIO when the socket cannot
 * be made.
 */
int ferry_control_start(ferry_control **out, const char *path, long group, ferry_control_fn fn,
			void *payload);

/** Stop listening, wait for the requests being answered, remove the
 *  socket and free `c` (NULL is fine). */
void ferry_control_stop(ferry_control *c);

/**
 * Send `request` to the daemon listening on `path` and wait for its answer
 * (`*reply`, owned by the caller) for at most `timeout_s` seconds (0: no
 * limit). FERRY_ENOTFOUND when nothing listens there (no daemon runs);
 * FERRY_EIO on a broken exchange; FERRY_EINVALID on a malformed answer.
 */
int ferry_control_call(json_t **reply, const char *path, json_t *request, unsigned timeout_s);

#endif
