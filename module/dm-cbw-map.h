/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw chunk map: which COW slot holds each copied chunk.
 *
 * A sorted, two-level structure: 4 KiB leaves of packed 8-byte entries
 * (chunk offset from the leaf's base, slot number), and one sorted array
 * of the leaves' bases.  Its memory follows the number of copied chunks
 * (about 8 to 12 bytes each), not the size of the origin, and not how
 * scattered the copied chunks are.  The design and its costs are
 * described at the top of dm-cbw-map.c.
 *
 * Concurrency: the lookups (cbw_map_test(), cbw_map_lookup_run(),
 * cbw_map_next_mapped(), cbw_map_next_unmapped(), cbw_map_count()) take
 * no lock: they search in an RCU read-side section (cbw_map_test() with
 * preemption disabled) and search again if a write came between (a
 * sequence count), so they may run in any context, the map function's
 * included.  Writers (cbw_map_insert(), cbw_map_remove()) must be
 * serialised by the caller: they allocate and free without the map's
 * own spinlock, and write under it (interrupts off).  Each call sees the
 * map as it is at one moment; several calls are not a snapshot of one
 * moment unless the caller excludes writers.
 */
#ifndef DM_CBW_MAP_H
#define DM_CBW_MAP_H

#include <linux/bits.h>
#include <linux/gfp.h>
#include <linux/types.h>

struct cbw_map;

/* Returned by cbw_map_lookup_run() for a chunk that has no slot. */
#define CBW_NO_SLOT		U64_MAX

/* Slot numbers must be below this (32 bits of an entry). */
#define CBW_MAP_MAX_SLOTS	BIT_ULL(32)

/**
 * cbw_map_create() - an empty map.
 * @gfp: allocation flags.
 *
 * Context: process context if @gfp allows sleeping.
 * Return: the map, or NULL if out of memory.
 */
struct cbw_map *cbw_map_create(gfp_t gfp);

/**
 * cbw_map_destroy() - free the map and its leaves.
 * @map: the map, or NULL; nothing else uses it any more.
 *
 * Context: process context (the index may be vmalloc'ed).
 */
void cbw_map_destroy(struct cbw_map *map);

/**
 * cbw_map_insert() - record that chunks now live in slots.
 * @map: the map.
 * @chunk: the first chunk.
 * @slot: the slot of @chunk; chunk @chunk + i is in slot @slot + i.
 * @count: the number of chunks, at least 1.
 *
 * None of the chunks may be in the map already, and @slot + @count must
 * not exceed %CBW_MAP_MAX_SLOTS.  The leaves the insertion may need are
 * allocated first, without the lock, in a GFP_NOIO scope; then the
 * entries go in under the lock, so readers see each entry either absent
 * or complete.
 *
 * Context: process context; may sleep.  Serialised with cbw_map_remove().
 * Return: 0, -ENOMEM (nothing changed), or -EINVAL for a slot beyond the
 * limit or a chunk already mapped (nothing changed).
 */
int cbw_map_insert(struct cbw_map *map, u64 chunk, u64 slot, u64 count);

/**
 * cbw_map_insert_nowait() - cbw_map_insert() that never allocates.
 * @map: the map.
 * @chunk: the first chunk.
 * @slot: the slot of @chunk; chunk @chunk + i is in slot @slot + i.
 * @count: the number of chunks, at least 1.
 *
 * Uses only the spare leaves (and room in the index) that an earlier
 * cbw_map_insert() reserved: one chunk goes in unless the insertions
 * since then used them up (a split, or a new leaf each).  Otherwise
 * nothing changes, and the caller retries with cbw_map_insert() where it
 * may sleep.
 *
 * Context: any context.  Serialised with cbw_map_insert() and
 * cbw_map_remove().
 * Return: 0, -EAGAIN (more leaves might be needed), or as
 * cbw_map_insert(); nothing changed on error.
 */
int cbw_map_insert_nowait(struct cbw_map *map, u64 chunk, u64 slot, u64 count);

/**
 * cbw_map_lookup_run() - the slot of a chunk, and how far its run goes.
 * @map: the map.
 * @chunk: the chunk.
 * @last: the last chunk to look at, at least @chunk.
 * @count: set to the number of chunks from @chunk on, up to @last, that
 *	   are mapped to consecutive slots (1 or more) if @chunk is mapped;
 *	   else to the number of unmapped chunks from @chunk on, up to @last.
 *
 * Cost: a lookup, plus a step per chunk of a mapped run.
 *
 * Context: any context.
 * Return: the slot of @chunk, or %CBW_NO_SLOT.
 */
u64 cbw_map_lookup_run(struct cbw_map *map, u64 chunk, u64 last, u64 *count);

/**
 * cbw_map_next_mapped() - the first mapped chunk in a range.
 * @map: the map.
 * @from: the first chunk to look at.
 * @last: the last chunk to look at.
 *
 * Context: any context.
 * Return: the first chunk in [@from, @last] with a slot, or @last + 1.
 */
u64 cbw_map_next_mapped(struct cbw_map *map, u64 from, u64 last);

/**
 * cbw_map_test() - whether a chunk has a slot.
 * @map: the map.
 * @chunk: the chunk.
 *
 * Cost: the write fast path's lookup: a search in the index, and one in
 * the leaf unless the leaf is dense; no call out of the map.
 *
 * Context: any context.
 * Return: true if @chunk has a slot.
 */
bool cbw_map_test(struct cbw_map *map, u64 chunk);

/**
 * cbw_map_next_unmapped() - the first chunk without a slot in a range.
 * @map: the map.
 * @from: the first chunk to look at.
 * @last: the last chunk to look at.
 *
 * Cost: a run of mapped chunks is skipped a leaf at a time.
 *
 * Context: any context.
 * Return: the first chunk in [@from, @last] without a slot, or @last + 1.
 */
u64 cbw_map_next_unmapped(struct cbw_map *map, u64 from, u64 last);

/**
 * cbw_map_count() - how many chunks of a range have a slot.
 * @map: the map.
 * @first: the first chunk.
 * @last: the last chunk.
 *
 * Context: any context.
 * Return: the number of mapped chunks in [@first, @last].
 */
u64 cbw_map_count(struct cbw_map *map, u64 first, u64 last);

/**
 * cbw_map_remove() - forget the slots of the chunks in a range.
 * @map: the map.
 * @first: the first chunk.
 * @last: the last chunk.
 * @fn: called, without the lock, with each run of adjacent slots that
 *	was removed, in chunk order; @fn usually discards and frees them.
 *	May be NULL.
 * @ctx: passed to @fn.
 *
 * Leaves that become empty are freed.
 *
 * Context: process context if @fn sleeps, else any context.  Serialised
 * with cbw_map_insert().
 */
void cbw_map_remove(struct cbw_map *map, u64 first, u64 last,
		    void (*fn)(void *ctx, u64 slot, u64 count), void *ctx);

/**
 * cbw_map_entries() - number of mapped chunks.
 * @map: the map.
 *
 * Context: any context.
 * Return: the number of entries.
 */
u64 cbw_map_entries(struct cbw_map *map);

/**
 * cbw_map_bytes() - memory held by the map.
 * @map: the map.
 *
 * Counts the structure, the leaves (also spare ones) and the index array.
 *
 * Context: any context.
 * Return: bytes.
 */
size_t cbw_map_bytes(struct cbw_map *map);

#endif /* DM_CBW_MAP_H */
