/*
 * The pipe (see pipe.h): a mutex, one condition variable for every
 * direction, and a ring of slots. Chunks are counted from the start: chunk
 * k sits in slot k % FERRY_PIPE_SLOTS; `put` chunks were queued and each
 * consumer has consumed `done` of them, so a slot is free once the
 * slowest consumer is past it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "pipe.h"
#include "banned.h"

typedef struct {
	ferry_pipe *pipe;
	pthread_t thread;
	ferry_pipe_fn fn;
	void *payload;
	uint64_t done;   /* chunks consumed (or dropped after an error) */
	int error;       /* first error, an errno value */
} consumer;

struct ferry_pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	consumer consumers[FERRY_PIPE_MAX_CONSUMERS];
	size_t nconsumers;
	unsigned char *slot[FERRY_PIPE_SLOTS];
	size_t len[FERRY_PIPE_SLOTS];
	uint64_t at[FERRY_PIPE_SLOTS];
	int fd[FERRY_PIPE_SLOTS];
	uint64_t put;    /* chunks queued */
	int stop;
};

static void *consumer_main(void *arg)
{
	consumer *c = arg;
	ferry_pipe *p = c->pipe;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		size_t i;
		int error = 0;

		while (c->done == p->put && !p->stop)
			pthread_cond_wait(&p->changed, &p->lock);
		if (c->done == p->put)
			break;
		/* the producer only fills slots every consumer is past */
		i = (size_t)(c->done % FERRY_PIPE_SLOTS);
		if (!c->error) {
			pthread_mutex_unlock(&p->lock);
			error = c->fn(c->payload, p->slot[i], p->len[i], p->fd[i], p->at[i]);
			pthread_mutex_lock(&p->lock);
			if (error && !c->error)
				c->error = error;
		}
		c->done++;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Stop and join the consumers started so far, and free the pipe. */
static void pipe_free(ferry_pipe *p, size_t started)
{
	size_t i;

	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < started; i++)
		pthread_join(p->consumers[i].thread, NULL);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	for (i = 0; i < FERRY_PIPE_SLOTS; i++)
		free(p->slot[i]);
	free(p);
}

int ferry_pipe_start_many(ferry_pipe **out, const ferry_pipe_fn *fns,
			  void *const *payloads, size_t n)
{
	ferry_pipe *p;
	size_t i;

	*out = NULL;
	if (n < 1 || n > FERRY_PIPE_MAX_CONSUMERS)
		return ferry_error_set(FERRY_EINVALID, "a pipe has 1 to %d consumers",
				       FERRY_PIPE_MAX_CONSUMERS);
	if (!(p = calloc(1, sizeof(*p))))
		return ferry_error_oom();
	for (i = 0; i < FERRY_PIPE_SLOTS; i++)
		/* aligned: a consumer may write a slot past the page cache */
		if (!(p->slot[i] = aligned_alloc(4096, FERRY_PIPE_SLOT)))
			goto oom;
	if (pthread_mutex_init(&p->lock, NULL))
		goto oom;
	if (pthread_cond_init(&p->changed, NULL)) {
		pthread_mutex_destroy(&p->lock);
		goto oom;
	}
	p->nconsumers = n;
	for (i = 0; i < n; i++) {
		p->consumers[i].pipe = p;
		p->consumers[i].fn = fns[i];
		p->consumers[i].payload = payloads[i];
	}
	for (i = 0; i < n; i++)
		if (pthread_create(&p->consumers[i].thread, NULL, consumer_main,
				   &p->consumers[i])) {
			pipe_free(p, i);
			return ferry_error_set(FERRY_ERROR, "cannot start a worker thread");
		}
	*out = p;
	return 0;
oom:
	for (i = 0; i < FERRY_PIPE_SLOTS; i++)
		free(p->slot[i]);
	free(p);
	return ferry_error_oom();
}

int ferry_pipe_start(ferry_pipe **out, ferry_pipe_fn fn, void *payload)
{
	return ferry_pipe_start_many(out, &fn, &payload, 1);
}

/* Chunks the slowest consumer has consumed (the lock is held). */
static uint64_t slowest(const ferry_pipe *p)
{
	uint64_t min = p->consumers[0].done;
	size_t i;

	for (i = 1; i < p->nconsumers; i++)
		if (p->consumers[i].done < min)
			min = p->consumers[i].done;
	return min;
}

void *ferry_pipe_slot(ferry_pipe *p)
{
	size_t i;

	pthread_mutex_lock(&p->lock);
	while (p->put - slowest(p) == FERRY_PIPE_SLOTS)
		pthread_cond_wait(&p->changed, &p->lock);
	/* every consumer is past the slot of chunk `put` */
	i = (size_t)(p->put % FERRY_PIPE_SLOTS);
	pthread_mutex_unlock(&p->lock);
	return p->slot[i];
}

void ferry_pipe_commit(ferry_pipe *p, int fd, uint64_t at, size_t len)
{
	size_t i;

	pthread_mutex_lock(&p->lock);
	i = (size_t)(p->put % FERRY_PIPE_SLOTS);
	p->len[i] = len;
	p->at[i] = at;
	p->fd[i] = fd;
	p->put++;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

void ferry_pipe_put(ferry_pipe *p, int fd, uint64_t at, const void *buf, size_t len)
{
	while (len > 0) {
		size_t n = len < FERRY_PIPE_SLOT ? len : FERRY_PIPE_SLOT;

		memcpy(ferry_pipe_slot(p), buf, n);
		ferry_pipe_commit(p, fd, at, n);
		buf = (const char *)buf + n;
		at += n;
		len -= n;
	}
}

int ferry_pipe_drain(ferry_pipe *p)
{
	int error = 0;
	size_t i;

	pthread_mutex_lock(&p->lock);
	while (slowest(p) != p->put)
		pthread_cond_wait(&p->changed, &p->lock);
	for (i = 0; i < p->nconsumers; i++) {
		if (!error)
			error = p->consumers[i].error;
		p->consumers[i].error = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return error;
}

void ferry_pipe_stop(ferry_pipe *p)
{
	if (p)
		pipe_free(p, p->nconsumers);
}
