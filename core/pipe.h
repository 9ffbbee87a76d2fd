/*
 * A pipe to worker threads: the caller hands over copies of data in chunks
 * of at most FERRY_PIPE_SLOT bytes, and each consumer, on a thread of its
 * own, sees every chunk in order (one writes them, another hashes them),
 * so that the consuming overlaps the caller's next read. The consumers
 * share one copy: a ring of FERRY_PIPE_SLOTS buffers bounds the memory, a
 * slot is reused once every consumer is past it, and a full ring makes the
 * caller wait.
 */
#ifndef FERRY_CORE_PIPE_H
#define FERRY_CORE_PIPE_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_PIPE_SLOTS 4
#define FERRY_PIPE_SLOT (1u << 20)
#define FERRY_PIPE_MAX_CONSUMERS 2

/**
 * Consume one chunk: `len` bytes at `buf`, with the `fd` and `at` the
 * caller passed along. Runs on the consumer's thread, and must not change
 * the bytes. 0, or an errno value (positive): the first one is kept, and
 * later chunks are dropped for that consumer.
 */
typedef int (*ferry_pipe_fn)(void *payload, const void *buf, size_t len, int fd, uint64_t at);

typedef struct ferry_pipe ferry_pipe;

/** Start one consumer. FERRY_ENOMEM, or FERRY_ERROR when no thread starts. */
int ferry_pipe_start(ferry_pipe **out, ferry_pipe_fn fn, void *payload);
/** Start `n` consumers (1 to FERRY_PIPE_MAX_CONSUMERS) of the same chunks:
 *  fns[k] with payloads[k]. Errors as ferry_pipe_start. */
int ferry_pipe_start_many(ferry_pipe **out, const ferry_pipe_fn *fns,
			  void *const *payloads, size_t n);
/** Queue a copy of `len` bytes (split into slots); waits while the ring
 *  is full. Never fails: a consumer's error is kept for ferry_pipe_drain. */
void ferry_pipe_put(ferry_pipe *p, int fd, uint64_t at, const void *buf, size_t len);
/** The slot the next chunk goes in, to fill in place (no copy): waits
 *  while the ring is full. FERRY_PIPE_SLOT bytes, aligned to 4096; queue
 *  it with ferry_pipe_commit before any other put. */
void *ferry_pipe_slot(ferry_pipe *p);
/** Queue the slot ferry_pipe_slot gave, holding `len` (1 to
 *  FERRY_PIPE_SLOT) bytes. */
void ferry_pipe_commit(ferry_pipe *p, int fd, uint64_t at, size_t len);
/** Wait until every consumer consumed every queued chunk; the first
 *  consumer error (an errno value; every one is cleared by the call) or 0. */
int ferry_pipe_drain(ferry_pipe *p);
/** Drain, stop the consumers and free the pipe (NULL is fine). */
void ferry_pipe_stop(ferry_pipe *p);

#endif
