// SPDX-License-Identifier: GPL-2.0
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pm.h"

#define PM1_STS_TMR	   (1u << 0)
#define PM1_STS_PWRBTN	   (1u << 8)
#define PM1_STS_WAK	   (1u << 15)
#define PM1_CNT_SCI_EN	   (1u << 0)
#define PM1_CNT_SLP_EN	   (1u << 13)
#define PM1_CNT_SLP_TYP(v) (((v) >> 10) & 7)
#define PM_TIMER_HZ	   3579545ULL

struct pm {
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
	struct irq_line sci;
	void (*sleep)(void *ctx, unsigned slp_typ);
	void *ctx;
};

struct pm *pm_create(struct irq_line sci, void (*sleep)(void *ctx, unsigned slp_typ), void *ctx)
{
	struct pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pthread_mutex_init(&pm->lock, NULL);
	pm->sci = sci;
	pm->sleep = sleep;
	pm->ctx = ctx;
	/* No SMI_CMD in the FADT: the platform is in ACPI mode from reset. */
	pm->cnt = PM1_CNT_SCI_EN;
	return pm;
}

void pm_destroy(struct pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* The SCI is level-triggered: high while an enabled status bit is set. */
static void pm_update_sci(struct pm *pm)
{
	irq_line_set(&pm->sci, (pm->sts & pm->en) != 0);
}

static uint32_t pm_timer_read(void)
{
	struct timespec ts;
	unsigned __int128 ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (unsigned __int128)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return (uint32_t)(ns * PM_TIMER_HZ / 1000000000ULL) & 0xffffff;
}

/* The three blocks as one little-endian register file of 12 bytes. */
static uint8_t pm_read_byte(struct pm *pm, uint64_t off)
{
	uint32_t v;

	switch (off) {
	case 0 ... 1:
		v = pm->sts;
		break;
	case 2 ... 3:
		v = pm->en;
		break;
	case 4 ... 5:
		v = pm->cnt & ~PM1_CNT_SLP_EN;
		break;
	case 8 ... 11:
		return (uint8_t)(pm_timer_read() >> (8 * (off - 8)));
	default:
		return 0xff;
	}
	return (uint8_t)(v >> (8 * (off & 1)));
}

static void pm_read(void *opaque, uint64_t off, void *data, unsigned len)
{
	struct pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++)
		out[i] = pm_read_byte(pm, off + i);
	pthread_mutex_unlock(&pm->lock);
}

static void pm_write(void *opaque, uint64_t off, const void *data, unsigned len)
{
	struct pm *pm = opaque;
	const uint8_t *in = data;
	unsigned slp_typ = 0;
	bool do_sleep = false;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t o = off + i;
		uint16_t v = (uint16_t)(in[i] << (8 * (o & 1)));
		uint16_t mask = (uint16_t)(0xff << (8 * (o & 1)));

		if (o <= 1) {
			pm->sts &= ~v; /* write 1 to clear */
		} else if (o <= 3) {
			pm->en = (pm->en & ~mask) | v;
		} else if (o <= 5) {
			pm->cnt = ((pm->cnt & ~mask) | v) | PM1_CNT_SCI_EN;
			if (pm->cnt & PM1_CNT_SLP_EN) {
				slp_typ = PM1_CNT_SLP_TYP(pm->cnt);
				do_sleep = true;
				pm->cnt &= ~PM1_CNT_SLP_EN;
			}
		}
	}
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	/* Outside the lock: the VM may stop every vCPU from here. */
	if (do_sleep && pm->sleep)
		pm->sleep(pm->ctx, slp_typ);
}

static const struct bus_ops pm_ops = {
	.read = pm_read,
	.write = pm_write,
};

int pm_attach(struct pm *pm, struct bus *pio, uint16_t base)
{
	return bus_register(pio, base, 12, &pm_ops, pm);
}

void pm_power_button(struct pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_STS_PWRBTN;
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}
