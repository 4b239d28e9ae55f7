// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blk_int.h"
#include "kind.h"
#include "qcow2.h"

/* qcow2 when format=qcow2, or when the header says so and no format= was given. */
static int blk_check_format(struct blk_dev *d, int fd, const struct iopart_export *e,
			    uint64_t *size, char *err, size_t errlen)
{
	bool probed = e->format == IOPART_FMT_AUTO;
	int ret;

	if (e->format == IOPART_FMT_RAW || (probed && !qcow2_probe(fd)))
		return 1;
	if (e->direct) {
		snprintf(err, errlen, "%s: direct=on is not supported for qcow2 images", e->path);
		return -EINVAL;
	}
	ret = qcow2_open(&d->qc, fd, e->path, e->readonly, probed, err, errlen);
	if (ret < 0)
		return ret;
	*size = qcow2_size(d->qc);
	return 0;
}

static int blk_check_image(struct blk_dev *d, int fd, const struct iopart_export *e, uint64_t *size,
			   char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", e->path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", e->path);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s: empty image", e->path);
		return -EINVAL;
	}
	ret = blk_check_format(d, fd, e, size, err, errlen);
	if (ret <= 0)
		return ret;
	if (st.st_size % 512) {
		snprintf(err, errlen, "%s: size %lld is not a multiple of 512 bytes", e->path,
			 (long long)st.st_size);
		return -EINVAL;
	}
	*size = st.st_size;
	return 0;
}

static int blk_open_fd(const struct iopart_export *e, char *err, size_t errlen)
{
	int flags = (e->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (e->direct ? O_DIRECT : 0);
	int fd = open(e->path, flags);

	if (fd >= 0)
		return fd;
	if (errno == EISDIR) {
		snprintf(err, errlen, "%s: not a regular file", e->path);
		return -EINVAL;
	}
	if ((errno == EACCES || errno == EROFS) && !e->readonly && access(e->path, R_OK) == 0) {
		snprintf(err, errlen, "%s: image is read-only; export it with readonly=on",
			 e->path);
		return -EACCES;
	}
	if (errno == EINVAL && e->direct) {
		snprintf(err, errlen, "%s: O_DIRECT not supported here (direct=on)", e->path);
		return -EINVAL;
	}
	snprintf(err, errlen, "%s: %s", e->path, strerror(errno));
	return -errno;
}

int blk_open(struct blk_dev **out, const struct iopart_export *e, struct event_base *base,
	     char *err, size_t errlen)
{
	struct blk_dev *d;
	int fd, ret;

	fd = blk_open_fd(e, err, errlen);
	if (fd < 0)
		return fd;
	d = calloc(1, sizeof(*d));
	if (!d) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto err_close;
	}
	ret = blk_check_image(d, fd, e, &d->size, err, errlen);
	if (ret < 0)
		goto err_free;
	d->fd = fd;
	d->readonly = e->readonly;
	d->direct = e->direct;
	d->num_queues = e->num_queues ? e->num_queues : 1;
	memcpy(d->serial, e->serial, strnlen(e->serial, IOPART_SERIAL_LEN));
	d->base = base;
	*out = d;
	return 0;

err_free:
	free(d);
err_close:
	close(fd);
	return ret;
}

void blk_close(struct blk_dev *d)
{
	if (!d)
		return;
	for (unsigned i = 0; i < IOPART_MAX_QUEUES; i++)
		blk_queue_stop(d, i);
	qcow2_close(d->qc);
	close(d->fd);
	free(d);
}

uint64_t blk_features(struct blk_dev *d)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ |
		     1ull << VIRTIO_BLK_F_TOPOLOGY;

	if (d->readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	else
		f |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

uint16_t blk_num_queues(struct blk_dev *d)
{
	return d->num_queues;
}

uint64_t blk_capacity(struct blk_dev *d)
{
	return d->size / 512;
}

int blk_get_config(struct blk_dev *d, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_blk_config c;

	if (off > sizeof(c) || len > sizeof(c) - off)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.capacity = htole64(blk_capacity(d));
	c.seg_max = htole32(BLK_SEG_MAX);
	c.blk_size = htole32(512);
	c.physical_block_exp = 0;
	c.min_io_size = htole16(1);
	c.num_queues = htole16(d->num_queues);
	c.max_discard_sectors = htole32(BLK_DISCARD_MAX);
	c.max_discard_seg = htole32(1);
	c.discard_sector_alignment = htole32(1);
	c.max_write_zeroes_sectors = htole32(BLK_DISCARD_MAX);
	c.max_write_zeroes_seg = htole32(1);
	c.write_zeroes_may_unmap = 1;
	memcpy(buf, (uint8_t *)&c + off, len);
	return 0;
}

/* blk as dev.c serves it (kind.h): the functions above, with priv as the struct blk_dev. */
static int blk_kind_open(void **priv, const struct iopart_export *e, struct event_base *base,
			 char *err, size_t errlen)
{
	struct blk_dev *d;
	int ret = blk_open(&d, e, base, err, errlen);

	if (!ret)
		*priv = d;
	return ret;
}

static void blk_kind_close(void *priv)
{
	blk_close(priv);
}

static uint64_t blk_kind_features(void *priv)
{
	return blk_features(priv);
}

static uint16_t blk_kind_num_queues(void *priv)
{
	return blk_num_queues(priv);
}

static int blk_kind_get_config(void *priv, uint32_t off, void *buf, uint32_t len)
{
	return blk_get_config(priv, off, buf, len);
}

static int blk_kind_queue_start(void *priv, unsigned idx, struct virtq *vq,
				const struct ioq_ops *ops, void *ctx)
{
	return blk_queue_start(priv, idx, vq, ops, ctx);
}

static void blk_kind_queue_kick(void *priv, unsigned idx)
{
	blk_queue_kick(priv, idx);
}

static void blk_kind_queue_stop(void *priv, unsigned idx)
{
	blk_queue_stop(priv, idx);
}

/* No set_config: without CONFIG_WCE nothing in the config space is writable. */
const struct iopart_kind_ops blk_kind_ops = {
	.open = blk_kind_open,
	.close = blk_kind_close,
	.features = blk_kind_features,
	.num_queues = blk_kind_num_queues,
	.get_config = blk_kind_get_config,
	.queue_start = blk_kind_queue_start,
	.queue_kick = blk_kind_queue_kick,
	.queue_stop = blk_kind_queue_stop,
	.shared_open = true,
};
