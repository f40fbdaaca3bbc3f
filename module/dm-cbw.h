/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-cbw: copy-before-write snapshots for device-mapper.
 *
 * Internal interface between the snapshot state (dm-cbw-core.c) and the
 * two targets: "cbw" (dm-cbw-target.c), which sits on the origin and copies
 * a chunk's old data to the COW device before the first write to it, and
 * "snapshot-access" (dm-cbw-access.c), the read-only frozen image.
 *
 * struct cbw_snap is opaque to the targets.  It is created by the cbw
 * constructor and reference counted: a snapshot-access target keeps it
 * alive after the cbw target is gone, and then fails every read.
 */
#ifndef DM_CBW_H
#define DM_CBW_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/rbtree.h>
#include <linux/types.h>

#define DM_MSG_PREFIX "cbw"

struct cbw_snap;

/*
 * struct cbw_range - an interval of chunks that is busy.
 *
 * Either a copy in flight (@copying), or one snapshot read being served
 * from the origin.  Writes that touch a busy interval wait on @waiters;
 * reads wait only on a copy.  Every field is protected by the snapshot's
 * lock.
 */
struct cbw_range {
	struct rb_node rb;
	unsigned long start;
	unsigned long last;
	unsigned long subtree_last;
	bool copying;
	struct bio_list waiters;
};

/*
 * struct cbw_read_io - per-bio data of a snapshot-access read.
 *
 * Written by cbw_snap_map_read() and cbw_snap_read_end() only, for one bio
 * at a time; @range is linked into the snapshot's busy tree (under the
 * snapshot's lock) while @in_range is set.
 */
struct cbw_read_io {
	struct cbw_range range;
	struct block_device *origin;
	struct block_device *cow;
	bool in_range;
	bool holds_ref;
};

/**
 * struct cbw_snap_stats - a consistent copy of the snapshot's counters.
 * @chunks: chunks in the snapshot's address space.
 * @copied: chunks whose old data is on the COW device.
 * @to_copy: chunks still to copy before the origin may change them.
 * @copies: copy jobs issued to kcopyd (one per run of adjacent chunks).
 * @copy_errors: copy jobs that failed.
 * @waited: times a bio had to wait (for a copy, or for a snapshot read).
 * @origin_reads: snapshot reads served from the origin.
 * @cow_reads: snapshot reads served from the COW device.
 * @valid: false once the cbw target is gone; every read fails then.
 */
struct cbw_snap_stats {
	unsigned long chunks;
	unsigned long copied;
	unsigned long to_copy;
	u64 copies;
	u64 copy_errors;
	u64 waited;
	u64 origin_reads;
	u64 cow_reads;
	bool valid;
};

int cbw_snap_create(struct dm_target *ti, struct dm_dev *origin,
		    struct dm_dev *cow, sector_t chunk_sectors,
		    struct cbw_snap **snapp);
void cbw_snap_destroy(struct cbw_snap *snap);
void cbw_snap_put(struct cbw_snap *snap);
void cbw_snap_resume(struct cbw_snap *snap);
void cbw_snap_postsuspend(struct cbw_snap *snap);
struct cbw_snap *cbw_snap_lookup(dev_t dev);

int cbw_snap_map_write(struct cbw_snap *snap, struct bio *bio);
int cbw_snap_map_read(struct cbw_snap *snap, struct bio *bio,
		      struct cbw_read_io *io);
void cbw_snap_read_end(struct cbw_snap *snap, struct cbw_read_io *io);

sector_t cbw_snap_chunk_sectors(struct cbw_snap *snap);
sector_t cbw_snap_sectors(struct cbw_snap *snap);
dev_t cbw_snap_origin_dev(struct cbw_snap *snap);
dev_t cbw_snap_cow_dev(struct cbw_snap *snap);
void cbw_snap_get_stats(struct cbw_snap *snap, struct cbw_snap_stats *st);

int dm_cbw_target_init(void);
void dm_cbw_target_exit(void);
int dm_cbw_access_init(void);
void dm_cbw_access_exit(void);

#endif /* DM_CBW_H */
