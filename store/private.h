/*
 * The store handle's insides, shared by the files of store/ only.
 */
#ifndef FERRY_STORE_PRIVATE_H
#define FERRY_STORE_PRIVATE_H

#include "db.h"
#include "store.h"

struct ferry_store {
	char *root;
	ferry_db db;
	int lock_fd;   /* -1 when the write lock is not held */
};

/** The schema steps of ferry.db, oldest first (schema.c). */
extern const ferry_db_migration ferry_store__schema[];
extern const size_t ferry_store__schema_steps;

/* The meta key ferry_store_tag_set raises and writing the layout view
 * clears. */
#define FERRY_STORE_VIEW_STALE "layout_view_stale"

#endif
