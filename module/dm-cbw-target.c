// SPDX-License-Identifier: GPL-2.0
/*
 * The "cbw" target: stacks on the origin; before a write, write-zeroes or
 * discard changes a chunk that is still part of the snapshot, the chunk's
 * old data is copied to the COW device.
 */

#include <linux/blkdev.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "compat.h"
#include "dm-cbw.h"
#include "dm-cbw-bitmap.h"
#include "dm-cbw-track.h"

/* Chunks up to 1 GiB: the io hints of snapshot-access are 32-bit bytes. */
#define MAX_CHUNK_SECTORS	(1U << (30 - SECTOR_SHIFT))

/* The longest copy timeout: one day. */
#define MAX_TIMEOUT_MS		(24U * 3600 * 1000)

/**
 * struct cbw_c - a cbw target instance.
 * @ti: the target.
 * @origin: the origin device.
 * @cow: the COW device; NULL for a track-only table (COW argument "-").
 * @snap: the snapshot state; NULL for a track-only table.
 * @track: the tracking history, NULL without the track feature.
 * @spare: a track snapshot's empty changed set, until its first resume
 *	   hands it to @track; the preresume hook (dm serialises them).
 * @began: @track began this table (cbw_track_begin()); set by the
 *	   preresume hook (WRITE_ONCE()), read by messages (READ_ONCE()),
 *	   which may already reach the table then: dm swaps the tables in
 *	   before the preresume, and a table whose preresume failed stays
 *	   live, suspended.
 * @track_wq: the worker of @deferred (track tables only).
 * @track_work: marks the writes of @deferred, then sends them on.
 * @track_lock: protects @deferred.
 * @deferred: writes whose mark needs memory: their map function could
 *	      not take it from the reserve.
 * @chunk_shift: log2 of @chunk_sectors.
 * @chunk_sectors: chunk size in sectors.
 * @opts: the feature arguments as parsed.
 * @origin_arg: the origin argument as given, for the table status.
 * @cow_arg: the COW argument as given, for the table status.
 * @chunk_arg: the chunk size argument as given.
 * @nr_features: the feature argument count as given, -1 if none was.
 * @features: the feature arguments as given.
 *
 * Set by the constructor and constant afterwards, unless said.
 */
struct cbw_c {
	struct dm_target *ti;
	struct dm_dev *origin;
	struct dm_dev *cow;
	struct cbw_snap *snap;
	struct cbw_track *track;
	struct cbw_bitmap *spare;
	bool began;
	struct workqueue_struct *track_wq;
	struct work_struct track_work;
	spinlock_t track_lock;		/* @deferred */
	struct bio_list deferred;
	unsigned int chunk_shift;
	sector_t chunk_sectors;
	struct cbw_options opts;
	char *origin_arg;
	char *cow_arg;
	char *chunk_arg;
	int nr_features;
	char **features;
};

/*
 * A decimal number: one or more digits and nothing else, at most U64_MAX.
 * kstrtoull() alone would also take a leading '+' and a trailing newline;
 * sscanf() would also skip leading white space and wrap a number that
 * does not fit round.
 */
static int parse_dec(const char *arg, u64 *v)
{
	unsigned long long x;

	if (!arg || !*arg || arg[strspn(arg, "0123456789")] ||
	    kstrtoull(arg, 10, &x))
		return -EINVAL;
	*v = x;
	return 0;
}

/* A decimal number up to @max. */
static int parse_u64(const char *arg, u64 max, u64 *v)
{
	u64 x;

	if (parse_dec(arg, &x) || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* The larger logical block size of the origin and the COW device. */
static unsigned int devices_lbs(struct cbw_c *cc)
{
	unsigned int lbs = bdev_logical_block_size(cc->origin->bdev);

	if (cc->cow)
		lbs = max(lbs, bdev_logical_block_size(cc->cow->bdev));
	return lbs;
}

static int parse_chunk_size(struct cbw_c *cc, const char *arg)
{
	unsigned int lbs = devices_lbs(cc);
	u64 sectors;

	if (parse_dec(arg, &sectors) || !sectors ||
	    !is_power_of_2(sectors) || sectors < 8 ||
	    sectors < (lbs >> SECTOR_SHIFT) || sectors > MAX_CHUNK_SECTORS) {
		cc->ti->error = "Invalid chunk size";
		return -EINVAL;
	}
	cc->chunk_sectors = sectors;
	cc->chunk_shift = __ffs(sectors);
	return 0;
}

static int get_dev(struct dm_target *ti, const char *arg, struct dm_dev **dev,
		   char **saved, char *error)
{
	int r;

	r = dm_get_device(ti, arg, dm_table_get_mode(ti->table), dev);
	if (r) {
		ti->error = error;
		return r;
	}
	*saved = kstrdup(arg, GFP_KERNEL);
	if (!*saved) {
		dm_put_device(ti, *dev);
		ti->error = "Cannot allocate memory";
		return -ENOMEM;
	}
	return 0;
}

static void put_dev(struct dm_target *ti, struct dm_dev *dev, char *saved)
{
	kfree(saved);
	if (dev)
		dm_put_device(ti, dev);
}

/* The COW argument: a device, or "-" for none (a track-only table). */
static int get_cow(struct cbw_c *cc, const char *arg)
{
	if (strcmp(arg, "-"))
		return get_dev(cc->ti, arg, &cc->cow, &cc->cow_arg,
			       "Error opening COW device");
	cc->cow_arg = kstrdup(arg, GFP_KERNEL);
	if (!cc->cow_arg) {
		cc->ti->error = "Cannot allocate memory";
		return -ENOMEM;
	}
	return 0;
}

/*
 * <#features> <feature>*: see the table syntax above cbw_ctr().  Each
 * feature may be given once.
 */
static int parse_features(struct cbw_c *cc, struct dm_arg_set *as)
{
	static const struct dm_arg _args[] = {
		{0, 8, "Invalid number of feature arguments"},
	};
	struct dm_target *ti = cc->ti;
	unsigned int argc, seen = 0, bit, i;
	const char *name, *val;
	u64 v;
	int r;

	/*
	 * dm_read_arg_group() reads the count with sscanf(), which wraps a
	 * number past UINT_MAX round: check it first.
	 */
	if (parse_u64(as->argv[0], _args[0].max, &v)) {
		ti->error = _args[0].error;
		return -EINVAL;
	}
	r = dm_read_arg_group(_args, as, &argc, &ti->error);
	if (r)
		return r;
	cc->nr_features = argc;
	cc->features = kcalloc(max(argc, 1U), sizeof(char *), GFP_KERNEL);
	if (!cc->features) {
		ti->error = "Cannot allocate memory";
		return -ENOMEM;
	}
	for (i = 0; i < argc; i++) {
		cc->features[i] = kstrdup(as->argv[i], GFP_KERNEL);
		if (!cc->features[i]) {
			ti->error = "Cannot allocate memory";
			return -ENOMEM;
		}
	}

	while (argc) {
		name = dm_shift_arg(as);
		argc--;
		val = NULL;
		if (!strcasecmp(name, "timeout")) {
			bit = 0;
		} else if (!strcasecmp(name, "on_error")) {
			bit = 1;
		} else if (!strcasecmp(name, "incremental")) {
			bit = 2;
			cc->opts.incremental = true;
		} else if (!strcasecmp(name, "no_discard_passdown")) {
			bit = 3;
			cc->opts.discard_passdown = false;
		} else if (!strcasecmp(name, "low_water")) {
			bit = 4;
		} else if (!strcasecmp(name, "track")) {
			bit = 5;
			cc->opts.track = true;
		} else {
			ti->error = "Unrecognised feature argument";
			return -EINVAL;
		}
		if (seen & BIT(bit)) {
			ti->error = "Duplicate feature argument";
			return -EINVAL;
		}
		seen |= BIT(bit);
		if (bit != 5 && !cc->cow) {
			ti->error = "Snapshot feature without a COW device";
			return -EINVAL;
		}
		if (bit == 0 || bit == 1 || bit == 4) {
			if (!argc) {
				ti->error = "Feature argument needs a value";
				return -EINVAL;
			}
			val = dm_shift_arg(as);
			argc--;
		}
		switch (bit) {
		case 0:
			if (parse_u64(val, MAX_TIMEOUT_MS, &v)) {
				ti->error = "Invalid timeout";
				return -EINVAL;
			}
			cc->opts.timeout_ms = v;
			break;
		case 1:
			if (cbw_policy_parse(val, &cc->opts.policy)) {
				ti->error = "Invalid error policy";
				return -EINVAL;
			}
			break;
		case 4:
			if (parse_u64(val, U64_MAX, &v) || !v) {
				ti->error = "Invalid low water mark";
				return -EINVAL;
			}
			cc->opts.low_water = v;
			break;
		}
	}
	if (cc->opts.track && cc->opts.incremental) {
		ti->error = "Features track and incremental are exclusive";
		return -EINVAL;
	}
	return 0;
}

static void free_features(struct cbw_c *cc)
{
	int i;

	if (!cc->features)
		return;
	for (i = 0; i < cc->nr_features; i++)
		kfree(cc->features[i]);
	kfree(cc->features);
}

static u64 first_chunk(struct cbw_c *cc, struct bio *bio)
{
	return bio->bi_iter.bi_sector >> cc->chunk_shift;
}

static u64 last_chunk(struct cbw_c *cc, struct bio *bio)
{
	return (bio_end_sector(bio) - 1) >> cc->chunk_shift;
}

/* A write that was marked goes on: to the copy-before-write, or on. */
static void send_on(struct cbw_c *cc, struct bio *bio)
{
	if (!cc->snap ||
	    cbw_snap_map_write(cc->snap, bio) == DM_MAPIO_REMAPPED) {
		bio_set_dev(bio, cc->origin->bdev);
		cbw_submit_remapped(bio);
	}
}

/*
 * The writes whose mark needed memory: allocate it (GFP_NOIO), mark, send
 * them on (if the memory cannot be had, every chunk counts as changed:
 * cbw_track_mark_wait()).  The device-mapper core counts them in flight,
 * so a suspend waits for this.
 */
static void track_work(struct work_struct *work)
{
	struct cbw_c *cc = container_of(work, struct cbw_c, track_work);
	struct bio_list bios;
	struct bio *bio;

	spin_lock_irq(&cc->track_lock);
	bios = cc->deferred;
	bio_list_init(&cc->deferred);
	spin_unlock_irq(&cc->track_lock);

	while ((bio = bio_list_pop(&bios))) {
		cbw_track_mark_wait(cc->track, first_chunk(cc, bio),
				    last_chunk(cc, bio));
		send_on(cc, bio);
	}
}

/*
 * Stop the marking worker: after it, no deferred write reaches the
 * snapshot.  dm drains the writes in flight before it destroys a table
 * of a device it suspended, but not when it destroys a device that was
 * never suspended: then the worker may still hold some.
 */
static void stop_marks(struct cbw_c *cc)
{
	if (cc->track_wq) {
		destroy_workqueue(cc->track_wq);
		cc->track_wq = NULL;
	}
}

static void put_track(struct cbw_c *cc)
{
	if (!cc->track)
		return;
	stop_marks(cc);
	cbw_bitmap_destroy(cc->spare);
	cbw_track_put(cc->track);
	cc->track = NULL;
}

/* Join the device's tracking history, with what a track table needs. */
static int get_track(struct cbw_c *cc)
{
	struct dm_target *ti = cc->ti;
	int r;

	r = cbw_track_get(ti, cc->origin->bdev->bd_dev, cc->chunk_sectors,
			  &cc->track);
	if (r)
		return r;
	spin_lock_init(&cc->track_lock);
	bio_list_init(&cc->deferred);
	INIT_WORK(&cc->track_work, track_work);
	cc->track_wq = alloc_workqueue("kcbw_mark", WQ_MEM_RECLAIM | WQ_UNBOUND, 1);
	if (!cc->track_wq) {
		ti->error = "Cannot allocate workqueue";
		goto bad;
	}
	if (cc->cow) {
		cc->spare = cbw_track_spare(cc->track);
		if (!cc->spare) {
			ti->error = "Cannot allocate tracking";
			goto bad;
		}
	}
	return 0;
bad:
	put_track(cc);
	return -ENOMEM;
}

/*
 * Construct a cbw target:
 *
 *   cbw <origin dev> <COW dev> <chunk sectors> [<#features> <feature>*]
 *
 * origin dev: the device whose point-in-time image is kept; not zoned.
 * COW dev: where the old data of changed chunks goes, packed; at least
 *	    one chunk large; not zoned.  "-" for none: a track-only table,
 *	    which keeps no snapshot (needs "track", takes no other feature).
 * chunk sectors: the copy unit in 512-byte sectors: a power of two, at
 *	    least 8 and at least both devices' logical block size, at most
 *	    2097152 (1 GiB).
 * features (each at most once):
 *	timeout <ms>		copy timeout, 0 = none (the default), at
 *				most one day
 *	on_error <policy>	fail (the default), break or drop
 *	incremental		start with an empty snapshot set, in set-up:
 *				guest writes wait until the "start" message
 *				(or a suspend) while "add" messages build it
 *	no_discard_passdown	do not discard freed COW slots
 *	low_water <chunks>	a dm event when fewer COW slots are free
 *	track			track changed chunks (dm-cbw-track.h): with
 *				a COW device, the snapshot set is the
 *				changed set (not with incremental)
 *
 * Numbers are decimal digits only (no sign or space), at most 2^64 - 1.
 *
 * The target must start at sector 0 of its device, be no longer than the
 * origin, and its length be a multiple of both devices' logical block
 * size.  (A COW device that shares sectors with the origin, a partition
 * and its disk, is refused when it is opened: both are claimed
 * exclusively.)
 */
static int cbw_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as;
	unsigned int lbs;
	struct cbw_c *cc;
	int r;

	if (argc < 3) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}
	if (ti->begin) {
		ti->error = "cbw target must start at sector 0";
		return -EINVAL;
	}

	cc = kzalloc(sizeof(*cc), GFP_KERNEL);
	if (!cc) {
		ti->error = "Cannot allocate cbw context";
		return -ENOMEM;
	}
	cc->ti = ti;
	cc->nr_features = -1;
	cc->opts.policy = CBW_FAIL_WRITE;
	cc->opts.discard_passdown = true;

	r = get_dev(ti, argv[0], &cc->origin, &cc->origin_arg,
		    "Error opening origin device");
	if (r)
		goto bad_origin;
	r = get_cow(cc, argv[1]);
	if (r)
		goto bad_cow;

	r = -EINVAL;
	if (cc->cow && cc->cow->bdev->bd_dev == cc->origin->bdev->bd_dev) {
		ti->error = "COW device is the origin";
		goto bad_args;
	}
	/*
	 * A zone reset, finish, open or close of the origin would change
	 * chunks without a copy, and the COW store writes its slots in any
	 * order, which a sequential zone refuses.
	 */
	if (bdev_is_zoned(cc->origin->bdev)) {
		ti->error = "Zoned origin device not supported";
		goto bad_args;
	}
	if (cc->cow && bdev_is_zoned(cc->cow->bdev)) {
		ti->error = "Zoned COW device not supported";
		goto bad_args;
	}
	lbs = devices_lbs(cc);
	if (ti->len & ((lbs >> SECTOR_SHIFT) - 1)) {
		ti->error = "Length not a multiple of the logical block size";
		goto bad_args;
	}
	if (ti->len > bdev_nr_sectors(cc->origin->bdev)) {
		ti->error = "Origin device too small";
		goto bad_args;
	}
	r = parse_chunk_size(cc, argv[2]);
	if (r)
		goto bad_args;
	r = -EINVAL;
	if (cc->cow && bdev_nr_sectors(cc->cow->bdev) < cc->chunk_sectors) {
		ti->error = "COW device smaller than one chunk";
		goto bad_args;
	}
	r = -ENOMEM;
	cc->chunk_arg = kstrdup(argv[2], GFP_KERNEL);
	if (!cc->chunk_arg) {
		ti->error = "Cannot allocate memory";
		goto bad_args;
	}
	if (argc > 3) {
		as.argc = argc - 3;
		as.argv = argv + 3;
		r = parse_features(cc, &as);
		if (r)
			goto bad_args;
		if (as.argc) {
			ti->error = "Invalid argument count";
			r = -EINVAL;
			goto bad_args;
		}
	}

	if (!cc->cow && !cc->opts.track) {
		ti->error = "Missing COW device needs the track feature";
		r = -EINVAL;
		goto bad_args;
	}
	if (cc->opts.track) {
		r = get_track(cc);
		if (r)
			goto bad_args;
	}
	if (cc->cow) {
		r = cbw_snap_create(ti, cc->origin, cc->cow, cc->chunk_sectors,
				    &cc->opts, &cc->snap);
		if (r)
			goto bad_snap;
	}

	ti->private = cc;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct cbw_write_io);
#ifdef HAVE_DM_SUBMIT_BIO_REMAP
	/*
	 * A write the map function keeps (DM_MAPIO_SUBMITTED) is sent on by
	 * cbw_submit_remapped(), which starts its accounting; dm must not
	 * start it too when the map function returns, maybe at the same
	 * time on another CPU (the flag that says it started is not
	 * atomic).
	 */
	ti->accounts_remapped_io = true;
#endif
	return 0;

bad_snap:
	put_track(cc);
bad_args:
	free_features(cc);
	kfree(cc->chunk_arg);
	put_dev(ti, cc->cow, cc->cow_arg);
bad_cow:
	put_dev(ti, cc->origin, cc->origin_arg);
bad_origin:
	kfree(cc);
	return r;
}

static void cbw_dtr(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	stop_marks(cc);
	if (cc->snap)
		cbw_snap_destroy(cc->snap);
	put_track(cc);
	free_features(cc);
	kfree(cc->chunk_arg);
	put_dev(ti, cc->cow, cc->cow_arg);
	put_dev(ti, cc->origin, cc->origin_arg);
	kfree(cc);
}

static int cbw_map(struct dm_target *ti, struct bio *bio)
{
	struct cbw_c *cc = ti->private;
	unsigned long flags;

	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		break;
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		/* Empty flushes change nothing. */
		if (!bio_sectors(bio))
			break;
		if (cc->track &&
		    unlikely(!cbw_track_mark(cc->track, first_chunk(cc, bio),
					     last_chunk(cc, bio)))) {
			spin_lock_irqsave(&cc->track_lock, flags);
			bio_list_add(&cc->deferred, bio);
			spin_unlock_irqrestore(&cc->track_lock, flags);
			queue_work(cc->track_wq, &cc->track_work);
			return DM_MAPIO_SUBMITTED;
		}
		if (cc->snap)
			return cbw_snap_map_write(cc->snap, bio);
		break;
	default:
		/*
		 * Nothing else is expected: device-mapper sends no secure
		 * erase (no num_secure_erase_bios), and the block layer no
		 * zone operation, the device not being zoned.  A zone reset
		 * (a write of no sectors) must never pass the copy.
		 */
		return DM_MAPIO_KILL;
	}
	bio_set_dev(bio, cc->origin->bdev);
	return DM_MAPIO_REMAPPED;
}

static const char *state_word(const struct cbw_snap_stats *st)
{
	static const char * const broken[] = {
		[CBW_OK] = "active",
		[CBW_IO_ERROR] = "broken:io_error",
		[CBW_TIMEOUT] = "broken:timeout",
		[CBW_COW_FULL] = "broken:cow_full",
		[CBW_NOMEM] = "broken:no_memory",
		[CBW_USER] = "broken:user",
	};

	if (st->setup && !st->broken)
		return "setup";
	return broken[st->broken];
}

/* The chunks of the table, the last one may be partial. */
static u64 table_chunks(struct cbw_c *cc)
{
	return DIV_ROUND_UP_SECTOR_T(cc->ti->len, cc->chunk_sectors);
}

/* The track group of the status: see cbw_status(). */
static void emit_track(const struct cbw_track_stats *ts, char *result,
		       unsigned int maxlen, unsigned int *szp)
{
	static const char * const set_words[] = {
		[CBW_TRACK_SET_PENDING] = "pending",
		[CBW_TRACK_SET_COMMITTED] = "committed",
	};
	unsigned int sz = *szp;

	DMEMIT(" %pUb %llu %llu", &ts->uuid, ts->generation, ts->changed);
	if (ts->set == CBW_TRACK_SET_NONE)
		DMEMIT(" -");
	else
		DMEMIT(" %s:%llu", set_words[ts->set], ts->set_generation);
	DMEMIT(" %llu", ts->set_chunks);
	*szp = sz;
}

/*
 * Status format:
 *
 * <chunk sectors> <chunks> <in snapshot> <copied> <to copy> <dropped>
 * <discarded> <used slots>/<total slots> <state> <first error> <policy>
 * <timeout ms> <copies> <copy errors> <timeouts> <waited bios> <wait ms>
 * <tracking bytes>
 *
 * state: setup (incremental set-up), active, broken:<reason>, or none
 *	  (a track-only table: no snapshot, the other fields 0).
 * first error: "-", or the reason of the first failed copy.
 *
 * A track table adds:
 *
 * <uuid> <generation> <changed chunks> <set> <set chunks>
 *
 * set: "-", "pending:<generation>" or "committed:<generation>": the set a
 * snapshot took (see dm-cbw-track.h); set chunks: chunks still in it.
 */
static void cbw_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct cbw_c *cc = ti->private;
	struct cbw_track_stats ts;
	struct cbw_snap_stats st;
	unsigned int sz = 0;
	int i;

	switch (type) {
	case STATUSTYPE_INFO:
		memset(&st, 0, sizeof(st));
		if (cc->snap)
			cbw_snap_get_stats(cc->snap, &st);
		else
			st.chunks = table_chunks(cc);
		if (cc->track)
			cbw_track_get_stats(cc->track, &ts);
		DMEMIT("%llu %llu %llu %llu %llu %llu %llu %llu/%llu %s %s %s %u",
		       (unsigned long long)cc->chunk_sectors, st.chunks,
		       st.in_snapshot, st.copied, st.to_copy, st.dropped,
		       st.discarded, st.slots_used, st.slots_total,
		       cc->snap ? state_word(&st) : "none", cbw_reason_name(st.first_error),
		       cbw_policy_name(st.policy), st.timeout_ms);
		DMEMIT(" %llu %llu %llu %llu %llu %llu", st.copies,
		       st.copy_errors, st.timeouts, st.waited,
		       div_u64(st.wait_ns, NSEC_PER_MSEC),
		       st.memory + (cc->track ? ts.memory : 0));
		if (cc->track)
			emit_track(&ts, result, maxlen, &sz);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %s", cc->origin_arg, cc->cow_arg, cc->chunk_arg);
		if (cc->nr_features >= 0)
			DMEMIT(" %d", cc->nr_features);
		for (i = 0; i < cc->nr_features; i++)
			DMEMIT(" %s", cc->features[i]);
		break;
#ifdef HAVE_STATUSTYPE_IMA
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",origin_name=%s,cow_name=%s,chunk_sectors=%llu",
		       cc->origin->name, cc->cow ? cc->cow->name : "-",
		       (unsigned long long)cc->chunk_sectors);
		DMEMIT(",timeout_ms=%u,on_error=%s,incremental=%c",
		       cc->opts.timeout_ms, cbw_policy_name(cc->opts.policy),
		       cc->opts.incremental ? 'y' : 'n');
		DMEMIT(",discard_passdown=%c,low_water=%llu,track=%c;",
		       cc->opts.discard_passdown ? 'y' : 'n', cc->opts.low_water,
		       cc->opts.track ? 'y' : 'n');
		break;
#endif
	}
}

/*
 * A chunk range of a message: "N" or "N-M", each number as parse_dec()
 * takes it, inside the target.  @arg is cut at its first '-' while the
 * first number is parsed, and given back unchanged.
 */
static int parse_range(struct cbw_c *cc, char *arg, u64 *first, u64 *last)
{
	char *dash = strchr(arg, '-');
	u64 a, b;
	int r;

	if (dash)
		*dash = '\0';
	r = parse_dec(arg, &a);
	if (dash)
		*dash = '-';
	if (r)
		return r;
	b = a;
	if (dash && parse_dec(dash + 1, &b))
		return -EINVAL;
	if (a > b || b >= table_chunks(cc))
		return -EINVAL;
	*first = a;
	*last = b;
	return 0;
}

/* Check every range of a message before any is applied. */
static int check_ranges(struct cbw_c *cc, unsigned int argc, char **argv)
{
	u64 first, last;
	unsigned int i;

	if (argc < 2) {
		DMERR("message %s: no chunk range", argv[0]);
		return -EINVAL;
	}
	for (i = 1; i < argc; i++) {
		if (parse_range(cc, argv[i], &first, &last)) {
			DMERR("message %s: invalid chunk range %s", argv[0], argv[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int message_ranges(struct cbw_c *cc, unsigned int argc, char **argv,
			  bool add)
{
	u64 first, last;
	unsigned int i;
	int r;

	r = check_ranges(cc, argc, argv);
	if (r)
		return r;
	for (i = 1; i < argc; i++) {
		parse_range(cc, argv[i], &first, &last);
		r = cbw_snap_change_set(cc->snap, first, last, add);
		if (r == -EBUSY) {
			DMERR("message %s: only during the incremental set-up",
			      argv[0]);
			return r;
		}
		if (r) {
			DMERR("message %s: failed at %s: %d", argv[0], argv[i], r);
			return r;
		}
	}
	return 0;
}

/*
 * "map [<chunk>]": the runs of chunks in the snapshot from <chunk> on
 * ("track_map [<chunk>]": of the changed set),
 * as "<first>-<last>" words, then "end", or "more <chunk>" when the result
 * buffer is full (ask again from there).
 */
static int message_map(struct cbw_c *cc, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	u64 from = 0, chunks = table_chunks(cc), s, e;
	/* Before any DMEMIT(): the result may overwrite the words. */
	bool snap = cc->snap && !strcasecmp(argv[0], "map");
	unsigned int sz = 0;

	if (argc > 2 || (argc == 2 && parse_u64(argv[1], chunks, &from))) {
		DMERR("message %s: invalid start chunk", argv[0]);
		return -EINVAL;
	}
	/* Room for one more run (2 x 20 digits) and "more <chunk>". */
	while (from < chunks && maxlen - sz > 72) {
		if (snap)
			s = cbw_snap_next_readable(cc->snap, from, &e);
		else
			s = cbw_track_next_changed(cc->track, from, &e);
		if (s >= chunks) {
			from = chunks;
			break;
		}
		DMEMIT("%s%llu-%llu", sz ? " " : "", s, e - 1);
		from = e;
	}
	if (from < chunks)
		DMEMIT("%smore %llu", sz ? " " : "", from);
	else
		DMEMIT("%send", sz ? " " : "");
	return 1;
}

/* Message names of the snapshot. */
static const char * const snap_messages[] = {
	"timeout", "on_error", "break", "add", "remove", "start", "map",
};

/* "commit [<range>...]": see cbw_track_commit(). */
static int message_commit(struct cbw_c *cc, unsigned int argc, char **argv)
{
	u64 first, last;
	unsigned int i;
	int r = 0;

	if (!cc->snap || !READ_ONCE(cc->began)) {
		DMERR("message commit: no snapshot set");
		return -EINVAL;
	}
	if (argc == 1) {
		r = cbw_track_commit(cc->track, 0, 0, true);
	} else {
		r = check_ranges(cc, argc, argv);
		for (i = 1; !r && i < argc; i++) {
			parse_range(cc, argv[i], &first, &last);
			r = cbw_track_commit(cc->track, first, last, false);
		}
	}
	if (r == -ENOENT) {
		DMERR("message commit: the snapshot set was committed whole");
		return -EINVAL;
	}
	return r;
}

/* "track_add <range>...": mark chunks changed. */
static int message_track_add(struct cbw_c *cc, unsigned int argc, char **argv)
{
	u64 first, last;
	unsigned int i;
	int r;

	r = check_ranges(cc, argc, argv);
	for (i = 1; !r && i < argc; i++) {
		parse_range(cc, argv[i], &first, &last);
		r = cbw_track_add(cc->track, first, last);
		if (r)
			DMERR("message track_add: failed at %s: %d", argv[i], r);
	}
	return r;
}

/*
 * "track_id <uuid> <generation>": the uuid in the 36-character form,
 * lower case (as the status shows it), the generation at least 1.
 */
static int message_track_id(struct cbw_c *cc, unsigned int argc, char **argv)
{
	uuid_t uuid;
	u64 gen;

	if (argc != 3 || strlen(argv[1]) != UUID_STRING_LEN ||
	    strpbrk(argv[1], "ABCDEF") || uuid_parse(argv[1], &uuid) ||
	    parse_u64(argv[2], U64_MAX - 1, &gen) || !gen) {
		DMERR("message track_id: want <uuid> <generation>");
		return -EINVAL;
	}
	if (cbw_track_set_id(cc->track, &uuid, gen)) {
		DMERR("message track_id: the history is not new");
		return -EBUSY;
	}
	return 0;
}

/* The messages of the track feature; -ENOTTY for any other. */
static int track_message(struct cbw_c *cc, unsigned int argc, char **argv,
			 char *result, unsigned int maxlen)
{
	if (!strcasecmp(argv[0], "commit"))
		return message_commit(cc, argc, argv);
	if (!strcasecmp(argv[0], "track_add"))
		return message_track_add(cc, argc, argv);
	if (!strcasecmp(argv[0], "track_id"))
		return message_track_id(cc, argc, argv);
	if (!strcasecmp(argv[0], "track_map"))
		return message_map(cc, argc, argv, result, maxlen);
	return -ENOTTY;
}

/*
 * Messages:
 *
 *   timeout <ms>		the copy timeout, 0 = none
 *   on_error <policy>		fail, break or drop
 *   break			break the snapshot now
 *   add <range>+		add chunks (incremental set-up only)
 *   remove <range>+		remove chunks (incremental set-up only)
 *   start			end the incremental set-up
 *   map [<chunk>]		the chunks in the snapshot (result text)
 *
 * and, with the track feature:
 *
 *   commit [<range>+]		the snapshot's set (or those chunks of it)
 *				was backed up: it does not merge back
 *   track_add <range>+		mark chunks changed (a saved set restored)
 *   track_id <uuid> <gen>	give a new history its saved identity
 *   track_map [<chunk>]	the changed chunks, as map
 *
 * A track-only table takes only the last four (not commit).
 *
 * A range is "N" or "N-M" (chunk numbers, inclusive, decimal digits
 * only).
 */
static int cbw_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct cbw_c *cc = ti->private;
	enum cbw_policy policy;
	unsigned int i;
	u64 v;
	int r;

	if (!argc)
		return -EINVAL;
	if (cc->track) {
		r = track_message(cc, argc, argv, result, maxlen);
		if (r != -ENOTTY)
			return r;
	}
	if (!cc->snap) {
		for (i = 0; i < ARRAY_SIZE(snap_messages); i++) {
			if (!strcasecmp(argv[0], snap_messages[i])) {
				DMERR("message %s: no snapshot", argv[0]);
				return -EINVAL;
			}
		}
		DMERR("unknown message '%s'", argv[0]);
		return -EINVAL;
	}
	if (!strcasecmp(argv[0], "timeout")) {
		if (argc != 2 || parse_u64(argv[1], MAX_TIMEOUT_MS, &v)) {
			DMERR("message timeout: want <ms> up to %u", MAX_TIMEOUT_MS);
			return -EINVAL;
		}
		return cbw_snap_set_timeout(cc->snap, v);
	}
	if (!strcasecmp(argv[0], "on_error")) {
		if (argc != 2 || cbw_policy_parse(argv[1], &policy)) {
			DMERR("message on_error: want fail, break or drop");
			return -EINVAL;
		}
		return cbw_snap_set_policy(cc->snap, policy);
	}
	if (!strcasecmp(argv[0], "break")) {
		if (argc != 1) {
			DMERR("message break: takes no argument");
			return -EINVAL;
		}
		if (cbw_snap_break(cc->snap)) {
			DMERR("message break: the snapshot is broken already");
			return -EALREADY;
		}
		return 0;
	}
	if (!strcasecmp(argv[0], "start")) {
		if (argc != 1 || cbw_snap_start(cc->snap)) {
			DMERR("message start: not in incremental set-up");
			return -EINVAL;
		}
		return 0;
	}
	if (!strcasecmp(argv[0], "add"))
		return message_ranges(cc, argc, argv, true);
	if (!strcasecmp(argv[0], "remove"))
		return message_ranges(cc, argc, argv, false);
	if (!strcasecmp(argv[0], "map"))
		return message_map(cc, argc, argv, result, maxlen);

	DMERR("unknown message '%s'", argv[0]);
	return -EINVAL;
}

static void cbw_postsuspend(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	if (cc->snap)
		cbw_snap_postsuspend(cc->snap);
}

static void cbw_presuspend(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	if (cc->snap)
		cbw_snap_presuspend(cc->snap);
}

/*
 * A track table's first resume takes over the history (the snapshot's set
 * for a track snapshot): see cbw_track_begin().  If that fails the resume
 * fails and the device stays suspended; the next resume tries again.
 */
static int cbw_preresume(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;
	int r;

	if (cc->snap) {
		r = cbw_snap_preresume(cc->snap);
		if (r)
			return r;
	}
	if (cc->track && !cc->began) {
		r = cbw_track_begin(cc->track, cc->snap ? &cc->spare : NULL,
				    cbw_snap_fill, cc->snap);
		if (r) {
			DMERR("cannot take over the tracking: %d", r);
			return r;
		}
		WRITE_ONCE(cc->began, true);
	}
	return 0;
}

static void cbw_resume(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	if (cc->snap)
		cbw_snap_resume(cc->snap);
}

static int cbw_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct cbw_c *cc = ti->private;

	return fn(ti, cc->origin, 0, ti->len, data);
}

static struct target_type cbw_target = {
	.name = "cbw",
	.version = {1, 2, 0},
	.module = THIS_MODULE,
	.ctr = cbw_ctr,
	.dtr = cbw_dtr,
	.map = cbw_map,
	.status = cbw_status,
	.message = cbw_message,
	.presuspend = cbw_presuspend,
	.postsuspend = cbw_postsuspend,
	.preresume = cbw_preresume,
	.resume = cbw_resume,
	.iterate_devices = cbw_iterate_devices,
};

/**
 * dm_cbw_target_init() - register the cbw target.
 *
 * Context: module init.
 * Return: 0 or the error of dm_register_target().
 */
int dm_cbw_target_init(void)
{
	int r = dm_register_target(&cbw_target);

	if (r)
		DMERR("register of target cbw failed: %d", r);
	return r;
}

/**
 * dm_cbw_target_exit() - unregister the cbw target.
 *
 * Context: module exit.
 */
void dm_cbw_target_exit(void)
{
	dm_unregister_target(&cbw_target);
}
