// SPDX-License-Identifier: GPL-2.0
/* The guest firmware's FAT reader on a hostile volume (the input), then the boot search. */
#include "fuzz_fw_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_disk d;
	struct fw_arena a;
	struct fw_fs fs;
	struct fw_vol v;
	int ret;

	fuzz_disk_init(&d, data, size);
	fw_vol_whole(&v, &d.disk);
	fw_arena_init(&a, fuzz_arena_buf, sizeof(fuzz_arena_buf));
	ret = fw_fat_mount(&fs.fat, &v, &a);
	if (ret == FW_E_CORRUPT && !fs.fat.why)
		abort();
	if (!ret) {
		fs.type = FW_FS_FAT;
		fuzz_fs_walk(&fs);
	}
	fuzz_find_boot(&d.disk);
	return 0;
}
