/*
 * A one-worker pipe: the caller hands over copies of data in chunks of at
 * most FERRY_PIPE_SLOT bytes, a thread of its own consumes them in order
 * (writes them, hashes them), so that the consuming overlaps the caller's
 * next read. A ring of FERRY_PIPE_SLOTS buffers bounds the memory; a full
 * ring makes the caller wait.
 */
#ifndef FERRY_CORE_PIPE_H
#define FERRY_CORE_PIPE_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_PIPE_SLOTS 4
#define FERRY_PIPE_SLOT (1u << 20)

/**
 * Consume one chunk: `len` bytes at `buf`, with the `fd` and `at` the
 * caller passed along. Runs on the pipe's thread. 0, or an errno value
 * (positive): the first one is kept, and later chunks are dropped.
 */
typedef int (*ferry_pipe_fn)(void *payload, const void *buf, size_t len, int fd, uint64_t at);

typedef struct ferry_pipe ferry_pipe;

/** Start the worker. FERRY_ENOMEM, or FERRY_ERROR when no thread starts. */
int ferry_pipe_start(ferry_pipe **out, ferry_pipe_fn fn, void *payload);
/** Queue a copy of `len` bytes (split into slots); waits while the ring
 *  is full. Never fails: a consumer's error is kept for ferry_pipe_drain. */
void ferry_pipe_put(ferry_pipe *p, int fd, uint64_t at, const void *buf, size_t len);
/** Wait until every queued chunk is consumed; the first consumer error
 *  (an errno value, cleared by the call) or 0. */
int ferry_pipe_drain(ferry_pipe *p);
/** Drain, stop the worker and free the pipe (NULL is fine). */
void ferry_pipe_stop(ferry_pipe *p);

#endif
