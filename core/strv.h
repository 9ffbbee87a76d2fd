/*
 * String vectors: a NULL-terminated array of owned strings with its count,
 * for the lists that parts pass around (names, items, refusals).
 */
#ifndef FERRY_CORE_STRV_H
#define FERRY_CORE_STRV_H

#include <stddef.h>

typedef struct {
	char **v;      /* NULL-terminated once anything was pushed; may be NULL */
	size_t n;
	size_t alloc;  /* room in v, in pointers */
} ferry_strv;

#define FERRY_STRV_INIT { NULL, 0, 0 }

/** Append a copy of `s`; FERRY_ENOMEM. */
int ferry_strv_push(ferry_strv *sv, const char *s);
/** Append `s` itself (taken over, also on failure); FERRY_ENOMEM. */
int ferry_strv_push_owned(ferry_strv *sv, char *s);
/** Free every string and the array; the vector is empty again. */
void ferry_strv_dispose(ferry_strv *sv);

#endif
