/* SPDX-License-Identifier: GPL-2.0 */
#ifndef UVMM_PM_H
#define UVMM_PM_H

#include <stdint.h>

#include "bus.h"
#include "irq.h"

/*
 * ACPI fixed hardware: PM1a event block (status, enable), PM1a control
 * block and the 3.579545 MHz PM timer, at the ports the FADT names. The
 * guest enters a sleep state by writing SLP_TYP with SLP_EN; the VM turns
 * S5 into a power-off. The fixed power button asks the guest to shut down.
 */
struct pm;

#define PM_SLP_TYP_S5 5 /* the \_S5_ package in the DSDT says 5 */

struct pm *pm_create(struct irq_line sci, void (*sleep)(void *ctx, unsigned slp_typ), void *ctx);
void pm_destroy(struct pm *pm);
/* Registers event block at base, control block at base + 4, timer at base + 8. */
int pm_attach(struct pm *pm, struct bus *pio, uint16_t base);
/* Presses the power button: PWRBTN_STS, and an SCI if the guest enabled it. */
void pm_power_button(struct pm *pm);

#endif
