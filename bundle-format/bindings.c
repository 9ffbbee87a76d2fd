/*
 * A channel's bindings, moved bundle by bundle (see bindings.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "bindings.h"
#include "banned.h"

static int push(ferry_bindings *b, const char *reference, const char *digest)
{
	ferry_binding *it;
	int error;

	if ((error = FERRY_ALLOC_GROW(b->items, b->n + 1, b->alloc)) < 0)
		return error;
	it = &b->items[b->n];
	it->reference = strdup(reference);
	it->digest = strdup(digest);
	if (!it->reference || !it->digest) {
		free(it->reference);
		free(it->digest);
		return ferry_error_oom();
	}
	b->n++;
	return 0;
}

int ferry_bindings_add(ferry_bindings *b, const char *reference, const char *digest)
{
	if (b->n && strcmp(b->items[b->n - 1].reference, reference) >= 0)
		return ferry_error_set(FERRY_EINVALID, "image bindings out of order at "
				       "'%.200s'", reference);
	return push(b, reference, digest);
}

long ferry_bindings_find(const ferry_bindings *b, const char *reference)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->items[mid].reference, reference);

		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void ferry_bindings_dispose(ferry_bindings *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->items[i].reference);
		free(b->items[i].digest);
	}
	free(b->items);
	memset(b, 0, sizeof(*b));
}

static int cmp_image(const void *a, const void *b)
{
	return strcmp((*(ferry_image_ref *const *)a)->reference,
		      (*(ferry_image_ref *const *)b)->reference);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * One merge of three sorted lists: the bindings held, the bundle's own
 * (which replace a held one of the same reference) and the references it
 * removes. A bundle with all its bindings keeps nothing held.
 */
int ferry_bindings_apply(ferry_bindings *b, const ferry_manifest *m)
{
	const ferry_image_ref **img = NULL;
	char **gone = NULL;
	ferry_bindings next = { NULL, 0, 0 };
	size_t i = 0, k = 0, r = 0, held = m->bindings_all ? 0 : b->n;
	int error = 0;

	if (!(img = malloc((m->nimages ? m->nimages : 1) * sizeof(*img))) ||
	    !(gone = malloc((m->nremoved ? m->nremoved : 1) * sizeof(*gone)))) {
		error = ferry_error_oom();
		goto done;
	}
	for (k = 0; k < m->nimages; k++)
		img[k] = &m->images[k];
	for (r = 0; r < m->nremoved; r++)
		gone[r] = m->removed[r];
	if (m->nimages)
		qsort(img, m->nimages, sizeof(*img), cmp_image);
	if (m->nremoved)
		qsort(gone, m->nremoved, sizeof(*gone), cmp_str);
	k = r = 0;
	while (!error && (i < held || k < m->nimages)) {
		int c = i == held ? 1 : k == m->nimages ? -1
			: strcmp(b->items[i].reference, img[k]->reference);

		if (c < 0) {
			const char *ref = b->items[i].reference;

			while (r < m->nremoved && strcmp(gone[r], ref) < 0)
				r++;
			if (r == m->nremoved || strcmp(gone[r], ref))
				error = push(&next, ref, b->items[i].digest);
			i++;
			continue;
		}
		if (k > 0 && !strcmp(img[k - 1]->reference, img[k]->reference))
			error = ferry_error_set(FERRY_EINVALID, "image reference '%.200s' is "
						"bound twice", img[k]->reference);
		else
			error = push(&next, img[k]->reference, img[k]->digest);
		if (c == 0)
			i++;
		k++;
	}
done:
	free(img);
	free(gone);
	if (error) {
		ferry_bindings_dispose(&next);
		return error;
	}
	ferry_bindings_dispose(b);
	*b = next;
	return 0;
}

int ferry_bindings_digest(char hex[FERRY_SHA256_HEX_LEN + 1], const ferry_bindings *b)
{
	ferry_binding_state s;
	size_t i;
	int error;

	if ((error = ferry_binding_state_init(&s)) < 0)
		return error;
	for (i = 0; i < b->n && !error; i++)
		error = ferry_binding_state_add(&s, b->items[i].reference, b->items[i].digest);
	if (!error)
		error = ferry_binding_state_final(&s, hex);
	ferry_binding_state_dispose(&s);
	return error;
}
