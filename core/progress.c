/*
 * A terminal progress bar, redrawn at most ten times a second. Drawing only
 * happens on a TTY so logs and pipes stay clean.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "banned.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void ferry_progress_bar_init(ferry_progress_bar *bar, const char *label,
			     int allow)
{
	bar->label = label;
	bar->enabled = allow && isatty(STDERR_FILENO);
	bar->last_ms = 0;
	bar->drawn = 0;
	bar->start_ms = now_ms();
}

void ferry_progress_bar_cb(uint64_t done, uint64_t total, void *payload)
{
	ferry_progress_bar *bar = payload;
	char line[30];
	uint64_t t, filled, elapsed;
	double rate;
	int i;

	if (!bar || !bar->enabled)
		return;
	t = now_ms();
	if (bar->drawn && done < total && t - bar->last_ms < 100)
		return;
	bar->last_ms = t;
	bar->drawn = 1;
	filled = total ? done * 28 / total : 0;
	for (i = 0; i < 28; i++)
		line[i] = (uint64_t)i < filled ? '#' : '.';
	line[28] = '\0';
	elapsed = t - bar->start_ms;
	rate = elapsed ? (double)done / 1048576.0 / ((double)elapsed / 1000.0) : 0;
	fprintf(stderr, "\r%-10s [%s] %5.1f%% %8.1f MiB/s", bar->label, line,
		total ? 100.0 * (double)done / (double)total : 100.0, rate);
	fflush(stderr);
}

void ferry_progress_bar_finish(ferry_progress_bar *bar)
{
	if (bar->enabled && bar->drawn)
		fputc('\n', stderr);
	bar->drawn = 0;
}
