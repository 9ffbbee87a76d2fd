/*
 * Progress reporting. Libraries take a ferry_progress_cb and call it as work
 * advances; programs pass ferry_progress_bar_cb, which draws a bar on stderr
 * only when stderr is a terminal and otherwise does nothing.
 */
#ifndef FERRY_CORE_PROGRESS_H
#define FERRY_CORE_PROGRESS_H

#include <stdint.h>

typedef void (*ferry_progress_cb)(uint64_t done, uint64_t total,
				  void *payload);

typedef struct {
	const char *label;
	int enabled;        /* stderr is a TTY and the caller did not say -q */
	uint64_t last_ms;   /* time of the last redraw */
	int drawn;
	uint64_t start_ms;
} ferry_progress_bar;

/** Set up a bar; it draws only when `allow` and stderr is a terminal. */
void ferry_progress_bar_init(ferry_progress_bar *bar, const char *label,
			     int allow);
/** ferry_progress_cb whose payload is a ferry_progress_bar. */
void ferry_progress_bar_cb(uint64_t done, uint64_t total, void *payload);
/** Finish the line if anything was drawn. */
void ferry_progress_bar_finish(ferry_progress_bar *bar);

#endif
