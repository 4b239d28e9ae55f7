// SPDX-License-Identifier: GPL-2.0
/* Volumes, the arena, CRC32 and error names: the parsers' common ground. */
#include "fw.h"

const char *fw_strerror(int err)
{
	switch (err) {
	case FW_OK:
		return "success";
	case FW_E_IO:
		return "read error or read past the end of the device";
	case FW_E_NOPART:
		return "no partition table";
	case FW_E_NOFS:
		return "no known filesystem";
	case FW_E_CORRUPT:
		return "corrupt filesystem or partition table";
	case FW_E_UNSUPPORTED:
		return "unsupported feature";
	case FW_E_NOENT:
		return "no such file or directory";
	case FW_E_NOTDIR:
		return "not a directory";
	case FW_E_LOOP:
		return "too many levels of symbolic links";
	case FW_E_NOSPACE:
		return "buffer too small";
	case FW_E_NOENTRY:
		return "no bootable entry";
	case FW_E_NOKERNEL:
		return "boot entry names a missing kernel or initrd";
	case FW_E_INVAL:
		return "invalid argument";
	case FW_E_NAMETOOLONG:
		return "name or path too long";
	}
	return "unknown error";
}

void fw_vol_whole(struct fw_vol *v, const struct fw_disk *disk)
{
	v->disk = disk;
	v->start_lba = 0;
	v->blocks = disk->blocks;
}

uint64_t fw_vol_bytes(const struct fw_vol *v)
{
	return v->blocks * v->disk->block_size;
}

#define FW_MAX_BLOCK 4096

int fw_vol_read(const struct fw_vol *v, uint64_t off, void *buf, size_t len)
{
	const struct fw_disk *d = v->disk;
	uint32_t bs = d->block_size;
	uint8_t bounce[FW_MAX_BLOCK];
	uint8_t *out = buf;
	int ret;

	if (bs < 512 || bs > FW_MAX_BLOCK || (bs & (bs - 1)))
		return FW_E_INVAL;
	if (off > fw_vol_bytes(v) || len > fw_vol_bytes(v) - off)
		return FW_E_IO;
	while (len) {
		uint64_t lba = v->start_lba + off / bs;
		uint32_t in = off % bs;
		size_t n;

		if (!in && len >= bs) {
			/* Whole blocks straight into the caller's buffer. */
			uint64_t cnt = len / bs;

			if (cnt > 0x10000)
				cnt = 0x10000;
			ret = d->read(d->ctx, lba, (uint32_t)cnt, out);
			n = cnt * bs;
		} else {
			ret = d->read(d->ctx, lba, 1, bounce);
			n = bs - in < len ? bs - in : len;
			if (!ret)
				memcpy(out, bounce + in, n);
		}
		if (ret)
			return ret < 0 ? ret : FW_E_IO;
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

void fw_arena_init(struct fw_arena *a, void *buf, size_t size)
{
	a->base = buf;
	a->size = size;
	a->used = 0;
}

void *fw_arena_alloc(struct fw_arena *a, size_t size)
{
	size_t start = (a->used + 15) & ~(size_t)15;

	if (start > a->size || size > a->size - start)
		return NULL;
	a->used = start + size;
	return a->base + start;
}

uint32_t fw_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* Bitwise: no table to keep in a small firmware, and GPT is tiny. */
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}
