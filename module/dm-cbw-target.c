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

/* Chunks up to 1 GiB: the io hints of snapshot-access are 32-bit bytes. */
#define MAX_CHUNK_SECTORS	(1U << (30 - SECTOR_SHIFT))

/* The longest copy timeout: one day. */
#define MAX_TIMEOUT_MS		(24U * 3600 * 1000)

/**
 * struct cbw_c - a cbw target instance.
 * @ti: the target.
 * @origin: the origin device.
 * @cow: the COW device.
 * @snap: the snapshot state.
 * @chunk_sectors: chunk size in sectors.
 * @opts: the feature arguments as parsed.
 * @origin_arg: the origin argument as given, for the table status.
 * @cow_arg: the COW argument as given, for the table status.
 * @chunk_arg: the chunk size argument as given.
 * @nr_features: the feature argument count as given, -1 if none was.
 * @features: the feature arguments as given.
 *
 * Set by the constructor and constant afterwards.
 */
struct cbw_c {
	struct dm_target *ti;
	struct dm_dev *origin;
	struct dm_dev *cow;
	struct cbw_snap *snap;
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

static int parse_chunk_size(struct cbw_c *cc, const char *arg)
{
	unsigned int lbs = max(bdev_logical_block_size(cc->origin->bdev),
			       bdev_logical_block_size(cc->cow->bdev));
	u64 sectors;

	if (parse_dec(arg, &sectors) || !sectors ||
	    !is_power_of_2(sectors) || sectors < 8 ||
	    sectors < (lbs >> SECTOR_SHIFT) || sectors > MAX_CHUNK_SECTORS) {
		cc->ti->error = "Invalid chunk size";
		return -EINVAL;
	}
	cc->chunk_sectors = sectors;
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
	dm_put_device(ti, dev);
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
		} else {
			ti->error = "Unrecognised feature argument";
			return -EINVAL;
		}
		if (seen & BIT(bit)) {
			ti->error = "Duplicate feature argument";
			return -EINVAL;
		}
		seen |= BIT(bit);
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

/*
 * Construct a cbw target:
 *
 *   cbw <origin dev> <COW dev> <chunk sectors> [<#features> <feature>*]
 *
 * origin dev: the device whose point-in-time image is kept; not zoned.
 * COW dev: where the old data of changed chunks goes, packed; at least
 *	    one chunk large; not zoned.
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
	r = get_dev(ti, argv[1], &cc->cow, &cc->cow_arg,
		    "Error opening COW device");
	if (r)
		goto bad_cow;

	r = -EINVAL;
	if (cc->cow->bdev->bd_dev == cc->origin->bdev->bd_dev) {
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
	if (bdev_is_zoned(cc->cow->bdev)) {
		ti->error = "Zoned COW device not supported";
		goto bad_args;
	}
	lbs = max(bdev_logical_block_size(cc->origin->bdev),
		  bdev_logical_block_size(cc->cow->bdev));
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
	if (bdev_nr_sectors(cc->cow->bdev) < cc->chunk_sectors) {
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

	r = cbw_snap_create(ti, cc->origin, cc->cow, cc->chunk_sectors,
			    &cc->opts, &cc->snap);
	if (r)
		goto bad_args;

	ti->private = cc;
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct cbw_write_io);
	return 0;

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

	cbw_snap_destroy(cc->snap);
	free_features(cc);
	kfree(cc->chunk_arg);
	put_dev(ti, cc->cow, cc->cow_arg);
	put_dev(ti, cc->origin, cc->origin_arg);
	kfree(cc);
}

static int cbw_map(struct dm_target *ti, struct bio *bio)
{
	struct cbw_c *cc = ti->private;

	bio->bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		break;
	case REQ_OP_WRITE:
	case REQ_OP_DISCARD:
	case REQ_OP_WRITE_ZEROES:
		/* Empty flushes change nothing. */
		if (bio_sectors(bio))
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

/*
 * Status format:
 *
 * <chunk sectors> <chunks> <in snapshot> <copied> <to copy> <dropped>
 * <discarded> <used slots>/<total slots> <state> <first error> <policy>
 * <timeout ms> <copies> <copy errors> <timeouts> <waited bios> <wait ms>
 * <tracking bytes>
 *
 * state: setup (incremental set-up), active, or broken:<reason>.
 * first error: "-", or the reason of the first failed copy.
 */
static void cbw_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct cbw_c *cc = ti->private;
	struct cbw_snap_stats st;
	unsigned int sz = 0;
	int i;

	switch (type) {
	case STATUSTYPE_INFO:
		cbw_snap_get_stats(cc->snap, &st);
		DMEMIT("%llu %llu %llu %llu %llu %llu %llu %llu/%llu %s %s %s %u",
		       (unsigned long long)cc->chunk_sectors, st.chunks,
		       st.in_snapshot, st.copied, st.to_copy, st.dropped,
		       st.discarded, st.slots_used, st.slots_total,
		       state_word(&st), cbw_reason_name(st.first_error),
		       cbw_policy_name(st.policy), st.timeout_ms);
		DMEMIT(" %llu %llu %llu %llu %llu %llu", st.copies,
		       st.copy_errors, st.timeouts, st.waited,
		       div_u64(st.wait_ns, NSEC_PER_MSEC), st.memory);
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
		       cc->origin->name, cc->cow->name,
		       (unsigned long long)cc->chunk_sectors);
		DMEMIT(",timeout_ms=%u,on_error=%s,incremental=%c",
		       cc->opts.timeout_ms, cbw_policy_name(cc->opts.policy),
		       cc->opts.incremental ? 'y' : 'n');
		DMEMIT(",discard_passdown=%c,low_water=%llu;",
		       cc->opts.discard_passdown ? 'y' : 'n', cc->opts.low_water);
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
	if (a > b || b >= cbw_snap_chunks(cc->snap))
		return -EINVAL;
	*first = a;
	*last = b;
	return 0;
}

static int message_ranges(struct cbw_c *cc, unsigned int argc, char **argv,
			  bool add)
{
	u64 first, last;
	unsigned int i;
	int r;

	if (argc < 2) {
		DMERR("message %s: no chunk range", argv[0]);
		return -EINVAL;
	}
	/* All ranges are checked before any is applied. */
	for (i = 1; i < argc; i++) {
		if (parse_range(cc, argv[i], &first, &last)) {
			DMERR("message %s: invalid chunk range %s", argv[0], argv[i]);
			return -EINVAL;
		}
	}
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
 * "map [<chunk>]": the runs of chunks in the snapshot from <chunk> on,
 * as "<first>-<last>" words, then "end", or "more <chunk>" when the result
 * buffer is full (ask again from there).
 */
static int message_map(struct cbw_c *cc, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	u64 from = 0, chunks = cbw_snap_chunks(cc->snap), s, e;
	unsigned int sz = 0;

	if (argc > 2 || (argc == 2 && parse_u64(argv[1], chunks, &from))) {
		DMERR("message map: invalid start chunk");
		return -EINVAL;
	}
	/* Room for one more run (2 x 20 digits) and "more <chunk>". */
	while (from < chunks && maxlen - sz > 72) {
		s = cbw_snap_next_readable(cc->snap, from, &e);
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
 * A range is "N" or "N-M" (chunk numbers, inclusive, decimal digits
 * only).
 */
static int cbw_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct cbw_c *cc = ti->private;
	enum cbw_policy policy;
	u64 v;

	if (!argc)
		return -EINVAL;
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

	cbw_snap_postsuspend(cc->snap);
}

static void cbw_presuspend(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	cbw_snap_presuspend(cc->snap);
}

static int cbw_preresume(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

	return cbw_snap_preresume(cc->snap);
}

static void cbw_resume(struct dm_target *ti)
{
	struct cbw_c *cc = ti->private;

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
	.version = {1, 1, 0},
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
