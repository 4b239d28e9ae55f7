/* SPDX-License-Identifier: GPL-2.0 */
/* Old name of fw_boot.h, kept for its users ("boot.h" is also vmm/'s). */
#ifndef FW_BOOT_H
#define FW_BOOT_H

#include "fw_boot.h"

#endif
