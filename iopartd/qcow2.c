// SPDX-License-Identifier: GPL-2.0
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qcow2_int.h"

/* The header (QEMU's docs/interop/qcow2.txt), big endian. */
struct qcow2_hdr {
	uint32_t magic;
	uint32_t version;
	uint64_t backing_off;
	uint32_t backing_len;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_off;
	uint64_t rt_off;
	uint32_t rt_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_off;
	/* version 3 */
	uint64_t incompat;
	uint64_t compat;
	uint64_t autoclear;
	uint32_t refcount_order;
	uint32_t hdr_len;
	uint8_t compression_type;
} __attribute__((packed));

#define QCOW2_V2_HDR_LEN	   72
#define QCOW2_V3_HDR_LEN	   104
#define QCOW2_INCOMPAT_DIRTY	   (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT	   (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE   (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2	   (1ull << 4)
#define QCOW2_EXT_BACKING_FMT	   0xe2792acau
#define QCOW2_EXT_DATA_FILE	   0x44415441u
#define QCOW2_EXT_CRYPTO	   0x0537be77u

/* Backing chains: what is open already (loops) and how deep. */
struct qcow2_chain {
	unsigned depth;
	dev_t dev[QCOW2_MAX_CHAIN];
	ino_t ino[QCOW2_MAX_CHAIN];
};

static int qcow2_open_chain(struct qcow2 **out, int fd, const char *path, bool readonly,
			    bool probed, struct qcow2_chain *c, char *err, size_t errlen);

static int qcow2_fail(char *err, size_t errlen, const char *path, const char *msg)
{
	snprintf(err, errlen, "%s: %s", path, msg);
	return -EINVAL;
}

bool qcow2_probe(int fd)
{
	uint8_t *b;
	bool yes;

	/* Aligned, so that it also works on an O_DIRECT descriptor. */
	if (posix_memalign((void **)&b, 4096, 4096))
		return false;
	yes = pread(fd, b, 4096, 0) >= 4 && b[0] == 'Q' && b[1] == 'F' && b[2] == 'I' &&
	      b[3] == 0xfb;
	free(b);
	return yes;
}

int qcow2_meta_read(struct qcow2 *q, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (off > q->file_size || len > q->file_size - off)
		return -EIO;
	do
		n = pread(q->fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -EIO;
}

int qcow2_meta_write(struct qcow2 *q, uint64_t off, const void *buf, size_t len)
{
	ssize_t n;

	if (q->readonly)
		return -EROFS;
	do
		n = pwrite(q->fd, buf, len, off);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len)
		return -EIO;
	if (off + len > q->file_size)
		q->file_size = off + len;
	return 0;
}

static void qcow2_hdr_fix(struct qcow2_hdr *h)
{
	h->version = be32toh(h->version);
	h->backing_off = be64toh(h->backing_off);
	h->backing_len = be32toh(h->backing_len);
	h->cluster_bits = be32toh(h->cluster_bits);
	h->size = be64toh(h->size);
	h->crypt_method = be32toh(h->crypt_method);
	h->l1_size = be32toh(h->l1_size);
	h->l1_off = be64toh(h->l1_off);
	h->rt_off = be64toh(h->rt_off);
	h->rt_clusters = be32toh(h->rt_clusters);
	h->nb_snapshots = be32toh(h->nb_snapshots);
	h->incompat = be64toh(h->incompat);
	h->autoclear = be64toh(h->autoclear);
	h->refcount_order = be32toh(h->refcount_order);
	h->hdr_len = be32toh(h->hdr_len);
	if (h->version == 2) {
		h->incompat = h->compat = h->autoclear = 0;
		h->refcount_order = 4;
		h->hdr_len = QCOW2_V2_HDR_LEN;
	}
	if (h->hdr_len <= offsetof(struct qcow2_hdr, compression_type))
		h->compression_type = 0;
}

/* A table of n bytes at off: cluster aligned and inside the file. */
static bool qcow2_table_ok(const struct qcow2 *q, uint64_t off, uint64_t n)
{
	return !(off & (q->cluster_size - 1)) && off >= q->cluster_size && off <= q->file_size &&
	       n <= q->file_size - off;
}

/* The refusals that do not depend on the tables; one line each. */
static const char *qcow2_hdr_check(const struct qcow2_hdr *h, bool readonly)
{
	if (h->version != 2 && h->version != 3)
		return "unsupported qcow2 version (2 and 3 are)";
	if (h->cluster_bits < 9 || h->cluster_bits > 21)
		return "qcow2 cluster_bits outside 9..21";
	if (h->hdr_len < (h->version == 3 ? QCOW2_V3_HDR_LEN : QCOW2_V2_HDR_LEN) ||
	    h->hdr_len > (1u << h->cluster_bits) || h->hdr_len % 8)
		return "qcow2 header length is inconsistent";
	if (h->crypt_method)
		return "encrypted qcow2 images are not supported";
	if (h->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return "qcow2 images with an external data file are not supported";
	if (h->incompat & QCOW2_INCOMPAT_EXTL2)
		return "qcow2 images with extended L2 entries are not supported";
	if (h->incompat & QCOW2_INCOMPAT_COMPRESSION && h->compression_type != 0)
		return "qcow2 compression type is not zlib (zstd is not supported)";
	if (h->incompat & ~0x1full)
		return "qcow2 image uses unknown incompatible features";
	if (h->incompat & QCOW2_INCOMPAT_DIRTY)
		return "qcow2 image is dirty (not closed cleanly); repair it with "
		       "'qemu-img check -r all'";
	if (h->incompat & QCOW2_INCOMPAT_CORRUPT && !readonly)
		return "qcow2 image is marked corrupt; open it with readonly=on or repair it "
		       "with 'qemu-img check -r all'";
	if (h->refcount_order > 6 || (h->refcount_order != 4 && !readonly))
		return "qcow2 refcount_order is not 4 (16-bit refcounts); open it with "
		       "readonly=on";
	if (h->nb_snapshots && !readonly)
		return "qcow2 image has internal snapshots; open it with readonly=on";
	return NULL;
}

static const char *qcow2_tables_check(struct qcow2 *q, const struct qcow2_hdr *h)
{
	uint64_t l2_entries = q->cluster_size / 8, need;

	if (h->size > (1ull << 56))
		return "qcow2 virtual size is too large";
	need = (h->size + q->cluster_size * l2_entries - 1) / (q->cluster_size * l2_entries);
	if (h->l1_size > QCOW2_MAX_L1)
		return "qcow2 L1 table is too large";
	if (h->l1_size < need)
		return "qcow2 L1 table is too small for the virtual size";
	if (h->l1_size && !qcow2_table_ok(q, h->l1_off, (uint64_t)h->l1_size * 8))
		return "qcow2 L1 table lies outside the file";
	if ((uint64_t)h->rt_clusters * q->cluster_size > QCOW2_MAX_RT_BYTES)
		return "qcow2 refcount table is too large";
	if (!q->readonly &&
	    (!h->rt_clusters || !qcow2_table_ok(q, h->rt_off, h->rt_clusters * q->cluster_size)))
		return "qcow2 refcount table lies outside the file";
	return NULL;
}

static int qcow2_load(struct qcow2 *q, const struct qcow2_hdr *h)
{
	q->l1 = calloc(h->l1_size ? h->l1_size : 1, 8);
	if (!q->l1 || (h->l1_size && qcow2_meta_read(q, h->l1_off, q->l1, h->l1_size * 8ull)))
		return -EIO;
	for (uint32_t i = 0; i < h->l1_size; i++)
		q->l1[i] = be64toh(q->l1[i]);
	q->l1_off = h->l1_off;
	q->l1_size = h->l1_size;
	q->rt_off = h->rt_off;
	if (q->readonly)
		return 0;
	q->rt_entries = h->rt_clusters * q->cluster_size / 8;
	q->rt = malloc(q->rt_entries * 8);
	if (!q->rt || qcow2_meta_read(q, h->rt_off, q->rt, q->rt_entries * 8))
		return -EIO;
	for (uint64_t i = 0; i < q->rt_entries; i++)
		q->rt[i] = be64toh(q->rt[i]);
	return 0;
}

/* Header extensions: the backing format, and features we must refuse. */
static const char *qcow2_exts(struct qcow2 *q, const struct qcow2_hdr *h, char *fmt, size_t fmtlen)
{
	uint64_t end = h->backing_off && h->backing_off < q->cluster_size ? h->backing_off
									  : q->cluster_size;
	uint64_t off = h->hdr_len;

	if (end > q->file_size)
		end = q->file_size;
	while (off + 8 <= end) {
		uint32_t e[2];

		if (qcow2_meta_read(q, off, e, sizeof(e)))
			return "qcow2 header extensions are truncated";
		uint32_t type = be32toh(e[0]), len = be32toh(e[1]);

		if (!type)
			break;
		off += 8;
		if (len > end - off)
			return "qcow2 header extension lies outside the header cluster";
		if (type == QCOW2_EXT_DATA_FILE)
			return "qcow2 images with an external data file are not supported";
		if (type == QCOW2_EXT_CRYPTO)
			return "encrypted qcow2 images are not supported";
		if (type == QCOW2_EXT_BACKING_FMT) {
			if (len >= fmtlen || qcow2_meta_read(q, off, fmt, len))
				return "qcow2 backing format name is too long";
			fmt[len] = 0;
		}
		off += (len + 7ull) & ~7ull;
	}
	return NULL;
}

/* The backing file's path: relative ones are relative to the image's directory. */
static int qcow2_backing_path(struct qcow2 *q, const struct qcow2_hdr *h, const char *path,
			      char *out, size_t outlen)
{
	char name[1024];
	const char *slash = strrchr(path, '/');

	if (!h->backing_len || h->backing_len >= sizeof(name) ||
	    h->backing_off + h->backing_len > q->cluster_size ||
	    qcow2_meta_read(q, h->backing_off, name, h->backing_len))
		return -EINVAL;
	name[h->backing_len] = 0;
	if (strlen(name) != h->backing_len)
		return -EINVAL;
	if (name[0] == '/' || !slash)
		return snprintf(out, outlen, "%s", name) >= (int)outlen ? -EINVAL : 0;
	return snprintf(out, outlen, "%.*s/%s", (int)(slash - path), path, name) >= (int)outlen
		       ? -EINVAL
		       : 0;
}

static int qcow2_open_backing(struct qcow2 *q, const struct qcow2_hdr *h, const char *path,
			      const char *fmt, struct qcow2_chain *c, char *err, size_t errlen)
{
	char bpath[PATH_MAX];
	struct stat st;
	int ret;

	if (qcow2_backing_path(q, h, path, bpath, sizeof(bpath)))
		return qcow2_fail(err, errlen, path, "qcow2 backing file name is invalid");
	if (fmt[0] && strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) {
		snprintf(err, errlen, "%s: backing format '%s' is not supported (raw or qcow2)",
			 path, fmt);
		return -EINVAL;
	}
	q->bfd = open(bpath, O_RDONLY | O_CLOEXEC);
	if (q->bfd < 0 || fstat(q->bfd, &st) < 0) {
		snprintf(err, errlen, "%s: backing file %s: %s", path, bpath, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode))
		return qcow2_fail(err, errlen, bpath, "backing file is not a regular file");
	for (unsigned i = 0; i < c->depth; i++)
		if (c->dev[i] == st.st_dev && c->ino[i] == st.st_ino)
			return qcow2_fail(err, errlen, bpath, "backing chain has a loop");
	q->bsize = st.st_size;
	if (!strcmp(fmt, "raw") || (!fmt[0] && !qcow2_probe(q->bfd)))
		return 0;
	ret = qcow2_open_chain(&q->bq, q->bfd, bpath, true, false, c, err, errlen);
	if (ret < 0)
		return ret;
	q->bq->own_fd = true;
	q->bfd = -1; /* now the backing image's */
	q->bsize = q->bq->size;
	return 0;
}

static int qcow2_alloc_bufs(struct qcow2 *q)
{
	q->cbuf = malloc(q->cluster_size + 512);
	q->dbuf = malloc(q->cluster_size);
	for (unsigned i = 0; i < QCOW2_L2_CACHE; i++) {
		q->l2[i].t = malloc(q->cluster_size);
		if (!q->l2[i].t)
			return -ENOMEM;
	}
	return q->cbuf && q->dbuf ? 0 : -ENOMEM;
}

/* Clears autoclear features (bitmaps...) that our writes would make stale. */
static int qcow2_clear_autoclear(struct qcow2 *q, const struct qcow2_hdr *h)
{
	uint64_t zero = 0;

	if (q->readonly || !h->autoclear)
		return 0;
	return qcow2_meta_write(q, offsetof(struct qcow2_hdr, autoclear), &zero, 8);
}

static int qcow2_setup(struct qcow2 *q, const char *path, bool probed, struct qcow2_chain *c,
		       char *err, size_t errlen)
{
	struct qcow2_hdr h;
	const char *why;
	char fmt[32] = "";

	memset(&h, 0, sizeof(h));
	if (pread(q->fd, &h.magic, 4, 0) != 4 || be32toh(h.magic) != QCOW2_MAGIC)
		return qcow2_fail(err, errlen, path, "not a qcow2 image (no QFI\\xfb magic)");
	if (qcow2_meta_read(q, 0, &h, QCOW2_V2_HDR_LEN))
		return qcow2_fail(err, errlen, path, "qcow2 header is truncated");
	if (be32toh(h.version) >= 3 &&
	    qcow2_meta_read(q, 0, &h, q->file_size < sizeof(h) ? QCOW2_V3_HDR_LEN : sizeof(h)))
		return qcow2_fail(err, errlen, path, "qcow2 header is truncated");
	qcow2_hdr_fix(&h);
	why = qcow2_hdr_check(&h, q->readonly);
	if (why)
		return qcow2_fail(err, errlen, path, why);
	q->version = h.version;
	q->cluster_bits = h.cluster_bits;
	q->cluster_size = 1ull << h.cluster_bits;
	q->size = h.size;
	if (q->file_size < h.hdr_len)
		return qcow2_fail(err, errlen, path, "qcow2 header is truncated");
	why = qcow2_tables_check(q, &h);
	if (!why)
		why = qcow2_exts(q, &h, fmt, sizeof(fmt));
	if (why)
		return qcow2_fail(err, errlen, path, why);
	if (qcow2_load(q, &h) || qcow2_alloc_bufs(q))
		return qcow2_fail(err, errlen, path, "cannot read the qcow2 tables");
	if (qcow2_clear_autoclear(q, &h))
		return qcow2_fail(err, errlen, path, "cannot update the qcow2 header");
	if (!h.backing_off)
		return 0;
	if (probed)
		return qcow2_fail(err, errlen, path,
				  "qcow2 image with a backing file, format detected from its "
				  "header; say format=qcow2 if the image is trusted");
	if (c->depth >= QCOW2_MAX_CHAIN)
		return qcow2_fail(err, errlen, path, "backing chain is too long");
	return qcow2_open_backing(q, &h, path, fmt, c, err, errlen);
}

static int qcow2_open_chain(struct qcow2 **out, int fd, const char *path, bool readonly,
			    bool probed, struct qcow2_chain *c, char *err, size_t errlen)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	struct stat st;
	int ret;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->fd = fd;
	q->bfd = -1;
	q->readonly = readonly;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	q->file_size = st.st_size;
	c->dev[c->depth] = st.st_dev;
	c->ino[c->depth] = st.st_ino;
	c->depth++;
	ret = qcow2_setup(q, path, probed, c, err, errlen);
	if (ret < 0)
		goto fail;
	*out = q;
	return 0;
fail:
	qcow2_close(q);
	return ret;
}

int qcow2_open(struct qcow2 **out, int fd, const char *path, bool readonly, bool probed, char *err,
	       size_t errlen)
{
	struct qcow2_chain c = {0};

	return qcow2_open_chain(out, fd, path, readonly, probed, &c, err, errlen);
}

void qcow2_close(struct qcow2 *q)
{
	if (!q)
		return;
	qcow2_close(q->bq);
	if (q->bfd >= 0)
		close(q->bfd);
	if (q->own_fd)
		close(q->fd);
	for (unsigned i = 0; i < QCOW2_L2_CACHE; i++)
		free(q->l2[i].t);
	free(q->l1);
	free(q->rt);
	free(q->cbuf);
	free(q->dbuf);
	free(q);
}

uint64_t qcow2_size(const struct qcow2 *q)
{
	return q->size;
}

unsigned qcow2_cluster_size(const struct qcow2 *q)
{
	return q->cluster_size;
}
