/*
 * The object-id map (see oidmap.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "oidmap.h"
#include "banned.h"

/* The slot holding `id`, or the free slot where it goes. */
static size_t slot_of(const ferry_oidmap *m, const unsigned char *id)
{
	uint64_t key, head;
	size_t i;

	memcpy(&key, id, sizeof(key));
	for (i = (size_t)key & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const ferry_oidmap_slot *s = &m->slots[i];

		if (!(s->flags & FERRY_OIDMAP_USED))
			return i;
		memcpy(&head, s->id, sizeof(head));
		if (head == key && !memcmp(s->id + 8, id + 8, GIT_OID_RAWSZ - 8))
			return i;
	}
}

ferry_oidmap_slot *ferry_oidmap_get(const ferry_oidmap *m, const git_oid *id)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = slot_of(m, id->id);
	return (m->slots[i].flags & FERRY_OIDMAP_USED) ? &m->slots[i] : NULL;
}

int ferry_oidmap_add(ferry_oidmap_slot **out, ferry_oidmap *m, const git_oid *id)
{
	ferry_oidmap_slot *s;
	size_t i;

	if ((m->n + 1) * 4 > m->cap * 3) {
		ferry_oidmap grown = { NULL, m->cap ? m->cap * 2 : 1024, 0 };

		if (!(grown.slots = calloc(grown.cap, sizeof(*grown.slots))))
			return ferry_error_oom();
		for (i = 0; i < m->cap; i++)
			if (m->slots[i].flags & FERRY_OIDMAP_USED)
				grown.slots[slot_of(&grown, m->slots[i].id)] = m->slots[i];
		grown.n = m->n;
		free(m->slots);
		*m = grown;
	}
	s = &m->slots[slot_of(m, id->id)];
	if (out)
		*out = s;
	if (s->flags & FERRY_OIDMAP_USED)
		return 0;
	memcpy(s->id, id->id, GIT_OID_RAWSZ);
	s->flags = FERRY_OIDMAP_USED;
	m->n++;
	return 1;
}

void ferry_oidmap_dispose(ferry_oidmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}
