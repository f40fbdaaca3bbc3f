// SPDX-License-Identifier: GPL-2.0
/* bio_alloc_bioset(bdev, nr_vecs, opf, gfp, bs) (5.10: gfp, nr, bs). */
#include <linux/bio.h>

struct bio *probe_alloc(struct block_device *bdev, struct bio_set *bs);
struct bio *probe_alloc(struct block_device *bdev, struct bio_set *bs)
{
	return bio_alloc_bioset(bdev, 1, REQ_OP_READ, GFP_NOIO, bs);
}
