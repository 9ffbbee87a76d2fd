/*
 * The one-worker pipe (see pipe.h): a mutex, one condition variable for
 * both directions, and a ring of slots filled at `head` and consumed at
 * `tail`.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "pipe.h"
#include "banned.h"

struct ferry_pipe {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	ferry_pipe_fn fn;
	void *payload;
	unsigned char *slot[FERRY_PIPE_SLOTS];
	size_t len[FERRY_PIPE_SLOTS];
	uint64_t at[FERRY_PIPE_SLOTS];
	int fd[FERRY_PIPE_SLOTS];
	size_t head, tail, count;   /* filled slots: [tail, tail + count) */
	int stop;
	int error;                  /* first consumer error, an errno value */
};

static void *pipe_main(void *arg)
{
	ferry_pipe *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		size_t i;
		int error = 0;

		while (!p->count && !p->stop)
			pthread_cond_wait(&p->changed, &p->lock);
		if (!p->count)
			break;
		i = p->tail;   /* the producer fills other slots meanwhile */
		if (!p->error) {
			pthread_mutex_unlock(&p->lock);
			error = p->fn(p->payload, p->slot[i], p->len[i], p->fd[i], p->at[i]);
			pthread_mutex_lock(&p->lock);
			if (error && !p->error)
				p->error = error;
		}
		p->tail = (p->tail + 1) % FERRY_PIPE_SLOTS;
		p->count--;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int ferry_pipe_start(ferry_pipe **out, ferry_pipe_fn fn, void *payload)
{
	ferry_pipe *p;
	size_t i;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return ferry_error_oom();
	p->fn = fn;
	p->payload = payload;
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
	if (pthread_create(&p->thread, NULL, pipe_main, p)) {
		pthread_cond_destroy(&p->changed);
		pthread_mutex_destroy(&p->lock);
		for (i = 0; i < FERRY_PIPE_SLOTS; i++)
			free(p->slot[i]);
		free(p);
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

void ferry_pipe_put(ferry_pipe *p, int fd, uint64_t at, const void *buf, size_t len)
{
	while (len > 0) {
		size_t n = len < FERRY_PIPE_SLOT ? len : FERRY_PIPE_SLOT;

		pthread_mutex_lock(&p->lock);
		while (p->count == FERRY_PIPE_SLOTS)
			pthread_cond_wait(&p->changed, &p->lock);
		/* the slot at head is free: the worker only holds the one at tail */
		pthread_mutex_unlock(&p->lock);
		memcpy(p->slot[p->head], buf, n);
		pthread_mutex_lock(&p->lock);
		p->len[p->head] = n;
		p->at[p->head] = at;
		p->fd[p->head] = fd;
		p->head = (p->head + 1) % FERRY_PIPE_SLOTS;
		p->count++;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
		buf = (const char *)buf + n;
		at += n;
		len -= n;
	}
}

int ferry_pipe_drain(ferry_pipe *p)
{
	int error;

	pthread_mutex_lock(&p->lock);
	while (p->count)
		pthread_cond_wait(&p->changed, &p->lock);
	error = p->error;
	p->error = 0;
	pthread_mutex_unlock(&p->lock);
	return error;
}

void ferry_pipe_stop(ferry_pipe *p)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	for (i = 0; i < FERRY_PIPE_SLOTS; i++)
		free(p->slot[i]);
	free(p);
}
