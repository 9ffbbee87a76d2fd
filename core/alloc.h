/*
 * Growing arrays, after git's ALLOC_GROW: an array `ptr` holding `nr`
 * elements in room for `alloc` is grown geometrically, with every size
 * computation checked for overflow, and the error returned as a code.
 */
#ifndef FERRY_CORE_ALLOC_H
#define FERRY_CORE_ALLOC_H

#include <stddef.h>

/**
 * Make room for at least `nr` elements in the array `ptr` (any object
 * pointer, NULL when empty) whose room, in elements, is the size_t lvalue
 * `alloc`. When `nr <= alloc` nothing happens. Otherwise `ptr` is
 * reallocated to a larger room (about 1.5 times, at least `nr`) and `alloc`
 * updated; the new elements are uninitialised. Evaluates to 0, or to a
 * negative code with the thread's error set: FERRY_ETOOBIG when the size
 * overflows, FERRY_ENOMEM when allocation fails. On failure `ptr` and
 * `alloc` are unchanged (the array stays valid and owned by the caller).
 * `ptr` and `alloc` are evaluated more than once.
 *
 *     if ((error = FERRY_ALLOC_GROW(list->v, list->n + 1, list->alloc)) < 0)
 *             return error;
 *     list->v[list->n++] = item;
 */
#define FERRY_ALLOC_GROW(ptr, nr, alloc)                                         \
	((size_t)(nr) <= (alloc) ? 0                                             \
				 : ferry__alloc_grow(&(ptr), sizeof(*(ptr)),     \
						     (size_t)(nr), &(alloc)))

/**
 * The function behind FERRY_ALLOC_GROW: `ptrp` points at the array's
 * pointer, `elem` is the size of one element. Same results.
 */
int ferry__alloc_grow(void *ptrp, size_t elem, size_t nr, size_t *alloc);

#endif
