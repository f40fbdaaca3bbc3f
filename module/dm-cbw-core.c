// SPDX-License-Identifier: GPL-2.0
/*
 * dm-cbw core: the life of one copy-before-write snapshot (creation,
 * suspend, resume, destruction), its chunk sets, settings and counters,
 * and the list of snapshots.  The I/O paths are in dm-cbw-write.c,
 * dm-cbw-copy.c and dm-cbw-read.c, their design in dm-cbw-io.h.
 *
 * Snapshot reads and the cbw table's lifetime.  Snapshot reads are I/O of
 * another mapped device, so the device-mapper core does not wait for them
 * when it suspends the cbw device.  The cbw postsuspend hook does: it
 * waits for the copies in flight (also those that timed out), kills
 * @access_ref, waits for the snapshot-access bios in flight, and from then
 * on parks new ones.  Resuming the same table lets them go; destroying it
 * (the table was replaced or removed) fails them with EIO.  So a snapshot
 * read never overlaps I/O of a table that replaced this one.  Once dm has
 * drained the guest writes, no copy left has a write waiting on it: the
 * postsuspend hook has the worker detach them all (see below; their
 * chunks stay to copy), so that a stuck COW device holds up no suspend.
 *
 * COW I/O that outlives the cbw target.  Copies detached from the guest
 * writes (a broken snapshot, a timeout under "break" or "drop", or a
 * suspend) and discards of freed slots run in the background: neither
 * suspend nor the destructor waits for them, so a COW device that stops
 * answering does not hold up the cbw device.  Their bios use the snapshot's bio set,
 * pages and worker, so a destructor that finds such I/O still out
 * (@nr_cow_io) leaves the snapshot "orphaned": the worker that handles
 * the end of the last of it queues @reap on cbw_reap_wq, which frees the
 * copy machinery and drops the target's reference.  Until then the
 * snapshot stays on the list, dead, and its COW device cannot take a new
 * snapshot (the late writes and discards would land in the new one's
 * slots): a cbw table on it is refused, and so is the resume of a table
 * that replaced it.  Every snapshot holds its origin and COW device open
 * (@pins, taken by the constructor, where opening them cannot block), an
 * orphan also a reference on the module, until it is reaped.
 */

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "dm-cbw-snap.h"
#include "dm-cbw-track.h"

/* The tracepoints are defined here, and only here. */
#define CREATE_TRACE_POINTS
#include "dm-cbw-trace.h"

#define MIN_COPY_JOBS	16

/* Copy bios kept in reserve: a copy step needs one per run to go on. */
#define COPY_BIOS	16

/*
 * Copy pages kept from creation (so that a copy can always start: 64 KiB),
 * and the most kept for reuse (1 MiB).
 */
#define COPY_RESERVE_PAGES	16
#define COPY_CACHE_PAGES	256

static LIST_HEAD(cbw_snaps);
/*
 * cbw_registry_lock: the list of snapshots here, and the tracking
 * histories' (dm-cbw-track.c), so that a table's check that no other
 * device has a cbw target on its origin sees both at once.
 */
DEFINE_MUTEX(cbw_registry_lock);

/* The queue of the orphaned snapshots' @reap (see above). */
static struct workqueue_struct *cbw_reap_wq;

static const char * const policy_names[] = {
	[CBW_FAIL_WRITE] = "fail",
	[CBW_BREAK] = "break",
	[CBW_DROP] = "drop",
};

static const char * const reason_names[] = {
	[CBW_OK] = "-",
	[CBW_IO_ERROR] = "io_error",
	[CBW_TIMEOUT] = "timeout",
	[CBW_COW_FULL] = "cow_full",
	[CBW_NOMEM] = "no_memory",
	[CBW_USER] = "user",
};

/**
 * cbw_policy_name() - the table word of an error policy.
 * @policy: the policy.
 *
 * Context: any.
 * Return: "fail", "break" or "drop".
 */
const char *cbw_policy_name(enum cbw_policy policy)
{
	return policy_names[policy];
}

/**
 * cbw_policy_parse() - an error policy from its table word.
 * @name: "fail", "break" or "drop".
 * @policy: the policy, on success.
 *
 * Context: any.
 * Return: 0, or -EINVAL for any other word.
 */
int cbw_policy_parse(const char *name, enum cbw_policy *policy)
{
	int i = match_string(policy_names, ARRAY_SIZE(policy_names), name);

	if (i < 0)
		return -EINVAL;
	*policy = i;
	return 0;
}

/**
 * cbw_reason_name() - the status word of a failure reason.
 * @reason: the reason.
 *
 * Context: any.
 * Return: "-" for CBW_OK, else a word such as "io_error".
 */
const char *cbw_reason_name(enum cbw_reason reason)
{
	return reason_names[reason];
}

/**
 * cbw_snap_add_chunks() - add chunks to the snapshot (the readable set).
 * @snap: the snapshot.
 * @start: the first chunk.
 * @count: the number of chunks.
 *
 * The chunks have no slot, so they become "to copy".  One bitmap
 * operation under snap->lock; the nodes it may need are allocated
 * beforehand, without the lock.  Only one thread changes the readable set
 * at a time (the worker, or a message under snap->set_lock during the
 * incremental set-up), so the reserve filled here is still there when
 * the lock is taken.
 *
 * Context: process context; sleeps.
 * Return: the number of chunks added, or -ENOMEM (no change).
 */
s64 cbw_snap_add_chunks(struct cbw_snap *snap, u64 start, u64 count)
{
	s64 r;

	if (cbw_bitmap_refill(snap->readable, GFP_NOIO))
		return -ENOMEM;
	spin_lock_irq(&snap->lock);
	r = cbw_bitmap_set(snap->readable, start, count);
	spin_unlock_irq(&snap->lock);
	return r;
}

/**
 * cbw_snap_remove_chunks() - take chunks out of the snapshot.
 * @snap: the snapshot.
 * @start: the first chunk.
 * @count: the number of chunks.
 * @left: NULL, or the counter of chunks that left the snapshot this way
 *	(snap->dropped, snap->discarded), which grows by those that left.
 *
 * Clears them in the readable set, takes those with a slot off the
 * copied count and adds those that left to @left, in one step under
 * snap->lock, so that status never sees one without the others: a
 * backup agent that reads the map and then the status knows that every
 * chunk a drop or a discard took out of the map is counted (removals of
 * the incremental set-up pass NULL and count nowhere).  Their slots stay in the map;
 * the caller removes them (cbw_map_remove()) once no read can use them.
 * Same serialisation as cbw_snap_add_chunks().
 *
 * Context: process context; sleeps.
 * Return: the number of chunks that left the snapshot, or -ENOMEM (no
 * change).
 */
s64 cbw_snap_remove_chunks(struct cbw_snap *snap, u64 start, u64 count,
			   u64 *left)
{
	s64 r;

	if (cbw_bitmap_refill(snap->readable, GFP_NOIO))
		return -ENOMEM;
	spin_lock_irq(&snap->lock);
	r = cbw_bitmap_clear(snap->readable, start, count);
	if (r > 0) {
		snap->copied -= cbw_map_count(snap->map, start, start + count - 1);
		if (left)
			*left += r;
	}
	spin_unlock_irq(&snap->lock);
	return r;
}

/**
 * cbw_snap_check_low_water() - raise the low-water event if it is due.
 * @snap: the snapshot (no event once it is dead, see cbw_snap_event()).
 *
 * The event fires once when the free COW slots drop below the mark, and
 * again only after they have been above it.
 *
 * Context: process context, no spinlock held.
 */
void cbw_snap_check_low_water(struct cbw_snap *snap)
{
	u64 free = cbw_cow_total(snap->store) - cbw_cow_used(snap->store);
	bool fire = false;

	if (!snap->low_water)
		return;
	spin_lock_irq(&snap->lock);
	if (free < snap->low_water && !snap->low_fired) {
		snap->low_fired = true;
		fire = true;
	} else if (free >= snap->low_water) {
		snap->low_fired = false;
	}
	spin_unlock_irq(&snap->lock);
	if (fire) {
		DMWARN("%llu free COW slots, below the low-water mark %llu",
		       free, snap->low_water);
		cbw_snap_event(snap);
	}
}

/**
 * cbw_snap_do_break() - break the snapshot.
 * @snap: the snapshot.
 * @reason: why; kept if the snapshot is not broken yet.
 *
 * From now on snapshot reads fail (also those sent to the origin before
 * and still in flight, see cbw_snap_access_end()), guest writes go
 * straight to the origin and no copy starts; the worker detaches the
 * copies in flight, so that the writes waiting on them go on.  The
 * caller raises the dm event.
 *
 * Context: any; takes snap->lock with interrupts disabled.
 * Return: true if it broke now, false if it was broken already.
 */
bool cbw_snap_do_break(struct cbw_snap *snap, enum cbw_reason reason)
{
	unsigned long flags;
	bool now = false;

	spin_lock_irqsave(&snap->lock, flags);
	if (snap->broken == CBW_OK) {
		WRITE_ONCE(snap->broken, reason);
		if (snap->first_error == CBW_OK && reason != CBW_USER)
			snap->first_error = reason;
		now = true;
		/* Before any copy's end that the break throws away. */
		trace_cbw_break(snap, reason);
	}
	spin_unlock_irqrestore(&snap->lock, flags);
	if (now) {
		DMERR("snapshot broken: %s", cbw_reason_name(reason));
		/* It detaches the copies that writes wait on. */
		cbw_snap_wake(snap);
	}
	return now;
}

/*
 * The list of snapshots: a snapshot-access target finds its snapshot by
 * the cbw device's number; a second cbw target on one origin is refused.
 */

/**
 * cbw_snap_lookup() - find the live snapshot of a cbw device.
 * @dev: the cbw device's number.
 * @error: why there is none: -ENODEV (not a cbw device that has been
 *	   resumed) or -EBUSY (in incremental set-up).
 *
 * While a table replaces another, both may be listed: the newest one that
 * has been resumed wins.
 *
 * Context: process context; takes a mutex.
 * Return: the snapshot with a reference taken (cbw_snap_put() it), or
 * NULL.
 */
struct cbw_snap *cbw_snap_lookup(dev_t dev, int *error)
{
	struct cbw_snap *snap, *found = NULL;
	enum snap_state state;
	bool setup;

	*error = -ENODEV;
	mutex_lock(&cbw_registry_lock);
	list_for_each_entry_reverse(snap, &cbw_snaps, node) {
		if (snap->md_devt != dev)
			continue;
		spin_lock_irq(&snap->lock);
		state = snap->state;
		setup = snap->setup;
		spin_unlock_irq(&snap->lock);
		if (state != SNAP_LIVE && state != SNAP_SUSPENDED)
			continue;
		if (setup) {
			*error = -EBUSY;
			break;
		}
		kref_get(&snap->kref);
		found = snap;
		break;
	}
	mutex_unlock(&cbw_registry_lock);
	return found;
}

/* Whether @snap still has COW I/O in flight (see above); *@dead too. */
static bool cow_io_out(struct cbw_snap *snap, bool *dead)
{
	bool out;

	spin_lock_irq(&snap->lock);
	out = snap->nr_cow_io != 0;
	if (dead)
		*dead = snap->state == SNAP_DEAD;
	spin_unlock_irq(&snap->lock);
	return out;
}

/**
 * __cbw_snap_origin_taken() - whether another device has a snapshot on an
 * origin.
 * @origin: the origin's device number.
 * @md: the device asking; its own snapshots do not count.
 *
 * Dead snapshots do not count either (their device may be gone).
 *
 * Context: process context, cbw_registry_lock held.
 * Return: true if a live snapshot of another mapped device is on @origin.
 */
bool __cbw_snap_origin_taken(dev_t origin, struct mapped_device *md)
{
	struct cbw_snap *other;
	bool dead;

	list_for_each_entry(other, &cbw_snaps, node) {
		cow_io_out(other, &dead);
		if (!dead && other->md != md && other->origin_dev == origin)
			return true;
	}
	return false;
}

/*
 * Add @snap to the list, unless another device has a cbw target on its
 * origin (@ti->error says which) or on its COW device, or a removed
 * snapshot on its COW device still has COW I/O in flight.  A live table
 * of the same device is checked at the resume (cbw_snap_preresume()):
 * its COW I/O may end meanwhile.
 */
static int register_snap(struct cbw_snap *snap, struct dm_target *ti)
{
	bool dead, origin = false, cow = false, cow_io = false;
	struct cbw_snap *other;
	int r = -EBUSY;

	mutex_lock(&cbw_registry_lock);
	list_for_each_entry(other, &cbw_snaps, node) {
		/* A dead one's md may be gone, its address reused: no compare. */
		if (cow_io_out(other, &dead) && dead &&
		    other->cow_dev == snap->cow_dev)
			cow_io = true;
		if (dead || other->md == snap->md)
			continue;
		origin |= other->origin_dev == snap->origin_dev;
		cow |= other->cow_dev == snap->cow_dev;
	}
	origin |= __cbw_track_origin_taken(snap->origin_dev, snap->md);
	if (origin)
		ti->error = "Origin already has a cbw target";
	else if (cow)
		ti->error = "COW device in use by another cbw target";
	else if (cow_io)
		ti->error = "COW device still has I/O of a replaced snapshot in flight";
	else
		r = 0;
	if (!r)
		list_add_tail(&snap->node, &cbw_snaps);
	mutex_unlock(&cbw_registry_lock);
	return r;
}

static void access_ref_dead(struct percpu_ref *ref)
{
	struct cbw_snap *snap = container_of(ref, struct cbw_snap, access_ref);

	complete(&snap->access_drained);
}

static void snap_reap(struct work_struct *work);

/*
 * Open the origin and the COW device (by number, read-only, shared), so
 * that they stay while an orphan's I/O to them is still out.  In the
 * constructor: the table has them open, so this cannot block in a
 * driver's open, and the destructor, which may have to leave an orphan,
 * opens nothing.  Return: 0 or the error of the open.
 */
static int pin_devices(struct cbw_snap *snap)
{
	dev_t devs[2] = { snap->origin_dev, snap->cow_dev };
	unsigned int i;
	int r;

	for (i = 0; i < ARRAY_SIZE(devs); i++) {
		r = cbw_pin_open(&snap->pins[snap->nr_pins], devs[i]);
		if (r)
			return r;
		snap->nr_pins++;
	}
	return 0;
}

static void unpin_devices(struct cbw_snap *snap)
{
	while (snap->nr_pins)
		cbw_pin_close(&snap->pins[--snap->nr_pins]);
}

/* Slots on the COW device; the map records slot numbers up to its limit. */
static u64 cow_slots(struct cbw_snap *snap)
{
	return min_t(u64, bdev_nr_sectors(snap->cow->bdev) >> snap->chunk_shift,
		     CBW_MAP_MAX_SLOTS);
}

/**
 * cbw_snap_create() - set up the snapshot for a cbw target.
 * @ti: the cbw target; ti->error is set on failure.
 * @origin: the origin device.
 * @cow: the COW device, at least one chunk large.
 * @chunk_sectors: chunk size in sectors, a power of two.
 * @opts: the feature arguments.
 * @snapp: the new snapshot on success.
 *
 * Every chunk of the target starts in the snapshot and to copy, or (with
 * @opts->incremental or @opts->track) none does.
 *
 * Context: process context (the constructor); may sleep.
 * Return: 0, -ENOMEM, or -EBUSY if another device has a cbw on @origin.
 */
int cbw_snap_create(struct dm_target *ti, struct dm_dev *origin,
		    struct dm_dev *cow, sector_t chunk_sectors,
		    const struct cbw_options *opts, struct cbw_snap **snapp)
{
	bool all = !opts->incremental && !opts->track;
	struct cbw_snap *snap;
	int r = -ENOMEM;

	snap = kzalloc(sizeof(*snap), GFP_KERNEL);
	if (!snap) {
		ti->error = "Cannot allocate snapshot";
		return -ENOMEM;
	}
	kref_init(&snap->kref);
	snap->ti = ti;
	snap->origin = origin;
	snap->cow = cow;
	snap->origin_dev = origin->bdev->bd_dev;
	snap->cow_dev = cow->bdev->bd_dev;
	snap->md = dm_table_get_md(ti->table);
	snap->md_devt = disk_devt(dm_disk(snap->md));
	snap->chunk_shift = __ffs(chunk_sectors);
	snap->sectors = ti->len;
	snap->nr_chunks = DIV_ROUND_UP_SECTOR_T(ti->len, chunk_sectors);
	snap->discard_passdown = opts->discard_passdown;
	snap->low_water = opts->low_water;
	snap->policy = opts->policy;
	snap->timeout_ms = opts->timeout_ms;
	INIT_LIST_HEAD(&snap->node);
	mutex_init(&snap->set_lock);
	spin_lock_init(&snap->lock);
	snap->state = SNAP_NEW;
	snap->setup = opts->incremental;
	bio_list_init(&snap->held);
	snap->busy = RB_ROOT_CACHED;
	bio_list_init(&snap->deferred);
	bio_list_init(&snap->access_deferred);
	bio_list_init(&snap->parked);
	INIT_LIST_HEAD(&snap->events);
	snap->seq_next = U64_MAX;
	atomic64_set(&snap->ahead_at, AHEAD_NONE);
	INIT_WORK(&snap->worker, cbw_snap_work);
	atomic_set(&snap->nr_copies, 0);
	init_waitqueue_head(&snap->copies_done);
	INIT_LIST_HEAD(&snap->cow_discards);
	INIT_LIST_HEAD(&snap->discards_to_issue);
	INIT_WORK(&snap->discard_issuer, cbw_issue_cow_discards);
	INIT_WORK(&snap->reap, snap_reap);
	init_completion(&snap->access_drained);

	snap->readable = cbw_bitmap_create(snap->nr_chunks, all, GFP_KERNEL);
	snap->map = cbw_map_create(GFP_KERNEL);
	if (!snap->readable || !snap->map) {
		ti->error = "Cannot allocate chunk sets";
		goto bad_bitmaps;
	}
	snap->store = cbw_cow_create(cow_slots(snap));
	if (!snap->store) {
		ti->error = "Cannot allocate COW store";
		goto bad_bitmaps;
	}

	/* ALLOW_REINIT: resume revives it after a suspend killed it. */
	if (percpu_ref_init(&snap->access_ref, access_ref_dead,
			    PERCPU_REF_ALLOW_REINIT, GFP_KERNEL)) {
		ti->error = "Cannot allocate reference count";
		goto bad_ref;
	}
	if (mempool_init_kmalloc_pool(&snap->copy_pool, MIN_COPY_JOBS,
				      cbw_copy_size())) {
		ti->error = "Cannot allocate copy pool";
		goto bad_pool;
	}
	/*
	 * High priority: a guest write waits while the worker copies, so
	 * the worker must not queue behind the readers of the snapshot
	 * (a backup streaming it) for the CPU.
	 */
	snap->wq = alloc_workqueue("kcbwd",
				   WQ_MEM_RECLAIM | WQ_HIGHPRI | WQ_PERCPU, 0);
	if (!snap->wq) {
		ti->error = "Cannot allocate workqueue";
		goto bad_pool;
	}
	if (bioset_init(&snap->bios, COPY_BIOS, 0, BIOSET_NEED_BVECS)) {
		r = -ENOMEM;
		ti->error = "Cannot allocate copy bio set";
		goto bad_io;
	}
	if (cbw_pages_init(&snap->pages, COPY_RESERVE_PAGES, COPY_CACHE_PAGES)) {
		r = -ENOMEM;
		ti->error = "Cannot allocate copy pages";
		goto bad_pages;
	}
	r = pin_devices(snap);
	if (r) {
		ti->error = "Cannot hold the devices open";
		goto bad_pins;
	}
	r = register_snap(snap, ti);
	if (r)
		goto bad_register;
	*snapp = snap;
	return 0;

bad_register:
bad_pins:
	unpin_devices(snap);
	cbw_pages_exit(&snap->pages);
bad_pages:
	bioset_exit(&snap->bios);
bad_io:
	destroy_workqueue(snap->wq);
bad_pool:
	mempool_exit(&snap->copy_pool);
	percpu_ref_exit(&snap->access_ref);
bad_ref:
	cbw_cow_destroy(snap->store);
bad_bitmaps:
	cbw_map_destroy(snap->map);
	if (snap->readable)
		cbw_bitmap_destroy(snap->readable);
	mutex_destroy(&snap->set_lock);
	kfree(snap);
	return r;
}

/* The copy machinery: what the copies and COW discards use. */
static void free_machinery(struct cbw_snap *snap)
{
	/*
	 * First: a worker or issuer run still going may touch the rest
	 * (the issuer has nothing left to submit: @nr_cow_io is 0).
	 */
	flush_work(&snap->discard_issuer);
	destroy_workqueue(snap->wq);
	cbw_pages_exit(&snap->pages);
	bioset_exit(&snap->bios);
	mempool_exit(&snap->copy_pool);
}

static void snap_release(struct kref *kref)
{
	struct cbw_snap *snap = container_of(kref, struct cbw_snap, kref);

	percpu_ref_exit(&snap->access_ref);
	cbw_cow_destroy(snap->store);
	cbw_map_destroy(snap->map);
	cbw_bitmap_destroy(snap->readable);
	mutex_destroy(&snap->set_lock);
	kfree(snap);
}

/**
 * cbw_snap_put() - drop a reference taken by cbw_snap_lookup().
 * @snap: the snapshot.
 *
 * Context: process context.
 */
void cbw_snap_put(struct cbw_snap *snap)
{
	kref_put(&snap->kref, snap_release);
}

/* Stop new snapshot-access bios and wait for the ones in flight. */
static void kill_reads(struct cbw_snap *snap)
{
	reinit_completion(&snap->access_drained);
	percpu_ref_kill(&snap->access_ref);
	wait_for_completion(&snap->access_drained);
}

/*
 * Wait for the copies that count in @nr_copies (not the detached ones), and
 * for the worker; not for @discard_issuer, which may sleep as long as the
 * COW device does not answer (the COW I/O that nothing waits for).
 */
static void wait_copies(struct cbw_snap *snap)
{
	wait_event(snap->copies_done, !atomic_read(&snap->nr_copies));
	flush_work(&snap->worker);
}

/**
 * cbw_snap_destroy() - the cbw target is going away.
 * @snap: the snapshot.
 *
 * The snapshot becomes invalid: later reads of it, and the ones parked
 * while the target was suspended, fail with EIO.  Waits for the snapshot
 * reads and the copies in flight that writes may wait on, then releases
 * the copy machinery and the cbw target's reference, or (COW I/O still
 * out, see above) leaves that to the reap.  The device-mapper core has
 * suspended the target (or never resumed it), so no guest write is in
 * flight.
 *
 * Context: process context (the destructor); sleeps.
 */
void cbw_snap_destroy(struct cbw_snap *snap)
{
	enum snap_state state;
	struct bio_list parked;
	struct bio *bio;

	bool orphaned;

	/* Dead: no lookup finds it, and the worker raises no more events. */
	spin_lock_irq(&snap->lock);
	state = snap->state;
	WRITE_ONCE(snap->state, SNAP_DEAD);
	parked = snap->parked;
	bio_list_init(&snap->parked);
	spin_unlock_irq(&snap->lock);

	if (state != SNAP_SUSPENDED)
		kill_reads(snap);
	while ((bio = bio_list_pop(&parked)))
		bio_io_error(bio);
	wait_copies(snap);
	WARN_ON(!RB_EMPTY_ROOT(&snap->busy.rb_root));
	WARN_ON(!bio_list_empty(&snap->deferred));
	WARN_ON(!bio_list_empty(&snap->access_deferred));

	/*
	 * The worker that handles the end of the last COW I/O reaps an
	 * orphan; it checks @orphaned under the lock after its last change
	 * of @nr_cow_io, so exactly one of the two frees the machinery.
	 */
	mutex_lock(&cbw_registry_lock);
	spin_lock_irq(&snap->lock);
	orphaned = snap->nr_cow_io != 0;
	snap->orphaned = orphaned;
	if (orphaned)
		__module_get(THIS_MODULE);
	spin_unlock_irq(&snap->lock);
	if (!orphaned)
		list_del_init(&snap->node);
	mutex_unlock(&cbw_registry_lock);
	/* The table's devices go: nothing uses these now. */
	snap->ti = NULL;
	snap->origin = NULL;
	snap->cow = NULL;
	if (orphaned) {
		DMWARN("COW I/O of the removed snapshot still in flight: %s",
		       "its COW device stays busy until it ends");
		return;
	}
	unpin_devices(snap);
	free_machinery(snap);
	cbw_snap_put(snap);
}

/*
 * The last COW I/O of an orphaned snapshot ended: free the machinery
 * (destroy_workqueue() waits for the worker that queued this), close the
 * devices, and drop the cbw target's reference and the module's.  Module
 * unload, once that is dropped, waits for this to return
 * (destroy_workqueue(cbw_reap_wq)).
 */
static void snap_reap(struct work_struct *work)
{
	struct cbw_snap *snap = container_of(work, struct cbw_snap, reap);

	mutex_lock(&cbw_registry_lock);
	list_del_init(&snap->node);
	mutex_unlock(&cbw_registry_lock);
	free_machinery(snap);
	unpin_devices(snap);
	DMINFO("COW I/O of a removed snapshot ended");
	cbw_snap_put(snap);
	module_put(THIS_MODULE);
}

/**
 * cbw_snap_reap_check() - reap an orphaned snapshot whose COW I/O ended.
 * @snap: the snapshot.
 *
 * Called by the worker at the end of each run, after it handled the end
 * of COW I/O; it must not touch @snap after this.
 *
 * Context: the snapshot's worker.
 */
void cbw_snap_reap_check(struct cbw_snap *snap)
{
	bool reap;

	spin_lock_irq(&snap->lock);
	reap = snap->orphaned && !snap->nr_cow_io;
	if (reap)
		snap->orphaned = false;
	spin_unlock_irq(&snap->lock);
	if (reap)
		queue_work(cbw_reap_wq, &snap->reap);
}

/* How long a resume waits for the COW I/O of the snapshot it replaces. */
#define COW_BUSY_WAIT_MS	5000
#define COW_BUSY_STEP_MS	50

/*
 * Whether another snapshot on @snap's COW device (the one of a table that
 * @snap's replaces) still has COW I/O in flight.
 */
static bool cow_busy(struct cbw_snap *snap)
{
	struct cbw_snap *other;
	bool busy = false;

	mutex_lock(&cbw_registry_lock);
	list_for_each_entry(other, &cbw_snaps, node) {
		if (other != snap && other->cow_dev == snap->cow_dev &&
		    cow_io_out(other, NULL)) {
			busy = true;
			break;
		}
	}
	mutex_unlock(&cbw_registry_lock);
	return busy;
}

/**
 * cbw_snap_preresume() - check the COW device, take up its growth.
 * @snap: the snapshot.
 *
 * The resume is refused while a snapshot that this one replaces (an
 * earlier table on the same COW device) still writes or discards COW
 * slots in the background, after waiting up to COW_BUSY_WAIT_MS for that
 * (COW discards normally end soon): they would land in this snapshot's.
 * If the COW device grew since the constructor or the last resume, its
 * new space becomes free slots; nothing else changes.  (A COW device that
 * shrank is only reported: the slots past its end fail their copies.)
 *
 * Context: process context (the preresume hook); may sleep.
 * Return: 0, or -EBUSY (see above).
 */
int cbw_snap_preresume(struct cbw_snap *snap)
{
	u64 slots = cow_slots(snap), had = cbw_cow_total(snap->store);
	unsigned long until = jiffies + msecs_to_jiffies(COW_BUSY_WAIT_MS);

	while (cow_busy(snap)) {
		if (time_after(jiffies, until) || fatal_signal_pending(current)) {
			DMERR("COW device still has I/O of a replaced snapshot in flight: %s",
			      "resume refused");
			return -EBUSY;
		}
		msleep_interruptible(COW_BUSY_STEP_MS);
	}

	if (slots > had) {
		if (cbw_cow_grow(snap->store, slots))
			DMERR("cannot grow the COW store to %llu slots", slots);
		else
			DMINFO("COW device grew: %llu slots (was %llu)", slots, had);
		cbw_snap_check_low_water(snap);
	} else if (slots < had) {
		DMWARN("COW device shrank to %llu slots; %llu are in the table",
		       slots, had);
	}
	return 0;
}

/**
 * cbw_snap_resume() - the cbw target is live: the snapshot exists.
 * @snap: the snapshot.
 *
 * From the first resume on, the chunk sets change only by I/O, and
 * snapshot-access targets can find the snapshot; bios parked while the
 * target was suspended go on.
 *
 * Context: process context (the resume hook).
 */
void cbw_snap_resume(struct cbw_snap *snap)
{
	bool was_suspended;

	spin_lock_irq(&snap->lock);
	was_suspended = snap->state == SNAP_SUSPENDED;
	spin_unlock_irq(&snap->lock);
	/* Drained by cbw_snap_postsuspend(), so it cannot be in a switch. */
	if (was_suspended)
		percpu_ref_resurrect(&snap->access_ref);

	spin_lock_irq(&snap->lock);
	snap->state = SNAP_LIVE;
	WRITE_ONCE(snap->quiesced, false);
	bio_list_merge(&snap->access_deferred, &snap->parked);
	bio_list_init(&snap->parked);
	spin_unlock_irq(&snap->lock);
	cbw_snap_wake(snap);
}

/**
 * cbw_snap_postsuspend() - quiesce: copies and snapshot-access bios.
 * @snap: the snapshot.
 *
 * Stops background copy-ahead and has the worker detach the copies in
 * flight (dm has drained the guest writes: none waits on them; their
 * chunks stay to copy), waits for that and for the snapshot-access bios
 * in flight; new ones are parked until cbw_snap_resume() or fail at
 * cbw_snap_destroy().
 *
 * Context: process context (the postsuspend hook); sleeps.
 */
void cbw_snap_postsuspend(struct cbw_snap *snap)
{
	bool live;

	cbw_snap_stop_ahead(snap);
	wait_copies(snap);

	spin_lock_irq(&snap->lock);
	live = snap->state == SNAP_LIVE;
	if (live)
		snap->state = SNAP_SUSPENDED;
	spin_unlock_irq(&snap->lock);
	if (live)
		kill_reads(snap);
}

/**
 * cbw_snap_set_timeout() - change the copy timeout.
 * @snap: the snapshot.
 * @ms: the timeout in milliseconds, 0 for none.
 *
 * Applies to copies that start from now on.
 *
 * Context: any.
 * Return: 0.
 */
int cbw_snap_set_timeout(struct cbw_snap *snap, unsigned int ms)
{
	WRITE_ONCE(snap->timeout_ms, ms);
	return 0;
}

/**
 * cbw_snap_set_policy() - change the error policy.
 * @snap: the snapshot.
 * @policy: the new policy.
 *
 * Applies to copies that fail from now on.
 *
 * Context: any.
 * Return: 0.
 */
int cbw_snap_set_policy(struct cbw_snap *snap, enum cbw_policy policy)
{
	WRITE_ONCE(snap->policy, policy);
	return 0;
}

/**
 * cbw_snap_break() - break the snapshot by hand.
 * @snap: the snapshot.
 *
 * Context: process context (a message); raises a dm event.
 * Return: 0, or -EALREADY if it was broken already.
 */
int cbw_snap_break(struct cbw_snap *snap)
{
	if (!cbw_snap_do_break(snap, CBW_USER))
		return -EALREADY;
	cbw_snap_event(snap);
	cbw_snap_wake(snap);
	return 0;
}

/**
 * cbw_snap_start() - end the incremental set-up.
 * @snap: the snapshot.
 *
 * The guest writes held during the set-up go on (their copy timeout
 * counts from now); snapshot-access targets can find the snapshot.  An
 * add or remove message that runs at the same time either ends before
 * (its change is in the snapshot) or finds the set-up over (EBUSY).
 *
 * Context: process context; takes snap->set_lock, then snap->lock with
 * interrupts disabled.
 * Return: 0, or -EINVAL if the snapshot is not in set-up.
 */
int cbw_snap_start(struct cbw_snap *snap)
{
	struct cbw_write_io *wio;
	struct bio *bio;
	u64 now = cbw_clock_ns();

	mutex_lock(&snap->set_lock);
	spin_lock_irq(&snap->lock);
	if (!snap->setup) {
		spin_unlock_irq(&snap->lock);
		mutex_unlock(&snap->set_lock);
		return -EINVAL;
	}
	/* Pairs with smp_load_acquire() in cbw_snap_map_write(). */
	smp_store_release(&snap->setup, false);
	bio_list_for_each(bio, &snap->held) {
		wio = dm_per_bio_data(bio, sizeof(*wio));
		wio->start_ns = now;
		wio->waited = false;
	}
	bio_list_merge(&snap->deferred, &snap->held);
	bio_list_init(&snap->held);
	spin_unlock_irq(&snap->lock);
	mutex_unlock(&snap->set_lock);
	cbw_snap_wake(snap);
	return 0;
}

/**
 * cbw_snap_presuspend() - a suspend ends the incremental set-up.
 * @snap: the snapshot.
 *
 * The device-mapper core waits for the guest writes in flight, so the
 * ones held for the set-up must go on.
 *
 * Context: process context (the presuspend hook).
 */
void cbw_snap_presuspend(struct cbw_snap *snap)
{
	if (!cbw_snap_start(snap))
		DMINFO("suspend ended the incremental set-up");
}

/**
 * cbw_snap_change_set() - add chunks to the snapshot, or remove them.
 * @snap: the snapshot.
 * @first: the first chunk.
 * @last: the last chunk, at least @first and below the chunk count.
 * @add: add the chunks (to copy), or remove them.
 *
 * Only during the incremental set-up: guest writes are held, so the
 * origin still holds the data of the point in time.  snap->set_lock
 * keeps the set-up from ending while the change runs, and messages (which
 * the device-mapper core does not serialise) from changing the set at
 * the same time; the worker changes no bitmap while every write is held
 * (no copy runs) and no snapshot-access target can be made.
 *
 * Context: process context (a message); takes snap->set_lock; may sleep.
 * Return: 0, -EBUSY if not in set-up, or -ENOMEM (the sets may then hold
 * part of the range).
 */
int cbw_snap_change_set(struct cbw_snap *snap, u64 first, u64 last, bool add)
{
	u64 n = last - first + 1;
	s64 changed;
	int r = -EBUSY;

	mutex_lock(&snap->set_lock);
	/* snap->setup only changes under set_lock. */
	if (snap->setup) {
		if (add)
			changed = cbw_snap_add_chunks(snap, first, n);
		else
			changed = cbw_snap_remove_chunks(snap, first, n, NULL);
		r = changed < 0 ? -ENOMEM : 0;
	}
	mutex_unlock(&snap->set_lock);
	return r;
}

/**
 * cbw_snap_fill() - add a run of chunks to a track snapshot's set.
 * @data: the snapshot (struct cbw_snap *; the fill function of
 *	  cbw_track_begin()).
 * @start: the first chunk.
 * @count: the number of chunks.
 *
 * Before the first resume only: no guest write has come through the
 * table yet, so the origin holds the data of the point in time.
 *
 * Context: process context (the preresume hook); sleeps.
 * Return: 0, or -ENOMEM (part of the run may be added).
 */
int cbw_snap_fill(void *data, u64 start, u64 count)
{
	struct cbw_snap *snap = data;

	return cbw_snap_add_chunks(snap, start, count) < 0 ? -ENOMEM : 0;
}

/**
 * cbw_snap_next_readable() - the next run of chunks in the snapshot.
 * @snap: the snapshot.
 * @from: the chunk to start looking at.
 * @end: set to the chunk after the run.
 *
 * Context: any; takes snap->lock with interrupts disabled.
 * Return: the run's first chunk, or the chunk count if there is none.
 */
u64 cbw_snap_next_readable(struct cbw_snap *snap, u64 from, u64 *end)
{
	unsigned long flags;
	u64 s;

	spin_lock_irqsave(&snap->lock, flags);
	s = bm_next_set(snap->readable, from);
	*end = s < snap->nr_chunks ? bm_next_clear(snap->readable, s) : s;
	spin_unlock_irqrestore(&snap->lock, flags);
	return s;
}

/**
 * cbw_snap_chunk_sectors() - the chunk size.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the chunk size in sectors.
 */
sector_t cbw_snap_chunk_sectors(struct cbw_snap *snap)
{
	return (sector_t)1 << snap->chunk_shift;
}

/**
 * cbw_snap_sectors() - the size of the frozen image.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the size in sectors.
 */
sector_t cbw_snap_sectors(struct cbw_snap *snap)
{
	return snap->sectors;
}

/**
 * cbw_snap_chunks() - the number of chunks.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the number of chunks, the last one may be partial.
 */
u64 cbw_snap_chunks(struct cbw_snap *snap)
{
	return snap->nr_chunks;
}

/**
 * cbw_snap_origin_dev() - the origin's device number.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the device number.
 */
dev_t cbw_snap_origin_dev(struct cbw_snap *snap)
{
	return snap->origin_dev;
}

/**
 * cbw_snap_cow_dev() - the COW device's number.
 * @snap: the snapshot.
 *
 * Context: any.
 * Return: the device number.
 */
dev_t cbw_snap_cow_dev(struct cbw_snap *snap)
{
	return snap->cow_dev;
}

/**
 * cbw_snap_get_stats() - copy the state and counters.
 * @snap: the snapshot.
 * @st: filled in.
 *
 * Context: any; takes the snapshot's lock with interrupts disabled.
 */
void cbw_snap_get_stats(struct cbw_snap *snap, struct cbw_snap_stats *st)
{
	unsigned long flags;

	spin_lock_irqsave(&snap->lock, flags);
	st->in_snapshot = cbw_bitmap_weight(snap->readable);
	st->copied = snap->copied;
	st->dropped = snap->dropped;
	st->discarded = snap->discarded;
	st->setup = snap->setup;
	st->broken = snap->broken;
	st->first_error = snap->first_error;
	st->dead = snap->state == SNAP_DEAD;
	st->memory = cbw_bitmap_bytes(snap->readable) +
		     cbw_map_bytes(snap->map) + cbw_cow_bytes(snap->store);
	spin_unlock_irqrestore(&snap->lock, flags);
	st->chunks = snap->nr_chunks;
	st->to_copy = st->in_snapshot - st->copied;
	st->slots_used = cbw_cow_used(snap->store);
	st->slots_total = cbw_cow_total(snap->store);
	st->policy = READ_ONCE(snap->policy);
	st->timeout_ms = READ_ONCE(snap->timeout_ms);
	st->copies = atomic64_read(&snap->copies);
	st->copy_errors = atomic64_read(&snap->copy_errors);
	st->timeouts = atomic64_read(&snap->timeouts);
	st->waited = atomic64_read(&snap->waited);
	st->wait_ns = atomic64_read(&snap->wait_ns);
	st->origin_reads = atomic64_read(&snap->origin_reads);
	st->cow_reads = atomic64_read(&snap->cow_reads);
	st->failed_reads = atomic64_read(&snap->failed_reads);
}

static int __init dm_cbw_init(void)
{
	int r;

	cbw_reap_wq = alloc_workqueue("kcbw_reap", WQ_PERCPU, 0);
	if (!cbw_reap_wq)
		return -ENOMEM;
	r = cbw_bitmap_init();
	if (r)
		goto bad_bitmap;
	r = dm_cbw_target_init();
	if (r)
		goto bad_target;
	r = dm_cbw_access_init();
	if (r)
		goto bad_access;
	return 0;

bad_access:
	dm_cbw_target_exit();
bad_target:
	cbw_bitmap_exit();
bad_bitmap:
	destroy_workqueue(cbw_reap_wq);
	return r;
}

static void __exit dm_cbw_exit(void)
{
	dm_cbw_access_exit();
	dm_cbw_target_exit();
	/* The last reap may still run: it dropped its module reference. */
	destroy_workqueue(cbw_reap_wq);
	cbw_bitmap_exit();
}

module_init(dm_cbw_init);
module_exit(dm_cbw_exit);

MODULE_DESCRIPTION(DM_NAME " copy-before-write snapshots (cbw, snapshot-access)");
MODULE_AUTHOR("dm-cbw developers");
MODULE_LICENSE("GPL");
/*
 * dm core asks for a missing target with request_module("dm-<target>"):
 * "dm-cbw" is this module's own name, the other target needs an alias.
 */
MODULE_ALIAS("dm-snapshot-access");
