// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "le.h"
#include "log.h"
#include "virtio_pci.h"

#define PCI_CAP_ID_VNDR	      0x09
#define PCI_BAR_PREFETCH      0x8
#define VIRTIO_PCI_SUBSYS_ID  0x1100
#define VIRTIO_ISR_QUEUE      1
#define VIRTIO_ISR_CONFIG     2
#define VPCI_CFG_DATA	      (VPCI_CAP_PCI_CFG + 16)
#define VIRTIO_F_INDIRECT_BIT 28
#define VIRTIO_F_EVIDX_BIT    29
#define VIRTIO_F_V1_BIT	      32

uint64_t virtio_pci_filter_features(uint64_t backend)
{
	/* Device bits, and the ring features the split-ring back ends implement. */
	uint64_t allowed = 0xffffffULL | VIRTIO_F_BIT(VIRTIO_F_INDIRECT_BIT) |
			   VIRTIO_F_BIT(VIRTIO_F_EVIDX_BIT) | VIRTIO_F_BIT(VIRTIO_F_V1_BIT);

	return (backend & allowed) | VIRTIO_F_BIT(VIRTIO_F_V1_BIT);
}

static struct vpci_queue *vpci_selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->c.num_queues ? &vp->q[vp->queue_select] : NULL;
}

/* ---- interrupts ----------------------------------------------------------- */

/* The GSI of a live vector, routed to its current message; -1 if none. */
static int vpci_vector_gsi(struct virtio_pci *vp, unsigned v)
{
	uint64_t addr = msix_vector_addr(&vp->msix, v);
	uint32_t data = vp->msix.table[v].data;
	int gsi = vp->gsi[v];

	if (gsi < 0) {
		gsi = vp->c.host->gsi_alloc(vp->c.host_ctx);
		if (gsi < 0)
			return -1;
		vp->gsi[v] = gsi;
		vp->routed_addr[v] = ~0ULL;
	}
	if (vp->routed_addr[v] != addr || vp->routed_data[v] != data) {
		if (vp->c.host->gsi_route(vp->c.host_ctx, (unsigned)gsi, addr, data))
			return -1;
		vp->routed_addr[v] = addr;
		vp->routed_data[v] = data;
	}
	return gsi;
}

/*
 * Binds each queue's call eventfd to its vector's GSI while the vector is
 * live, and unbinds it while masked: a masked queue's interrupt then waits
 * in the eventfd (the PBA shows it) and KVM delivers it when the irqfd is
 * bound again.
 */
static void vpci_sync_irqs(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->c.num_queues; i++) {
		struct vpci_queue *q = &vp->q[i];
		int want = -1;

		if (msix_vector_live(&vp->msix, q->vector))
			want = vpci_vector_gsi(vp, q->vector);
		if (want == q->bound_gsi)
			continue;
		if (q->bound_gsi >= 0)
			vp->c.host->irqfd(vp->c.host_ctx, (unsigned)q->bound_gsi, q->call_fd,
					  false);
		q->bound_gsi = -1;
		if (want >= 0 &&
		    !vp->c.host->irqfd(vp->c.host_ctx, (unsigned)want, q->call_fd, true))
			q->bound_gsi = want;
	}
}

static void vpci_config_irq(struct virtio_pci *vp)
{
	unsigned v = vp->config_vector;

	vp->isr |= VIRTIO_ISR_CONFIG;
	if (!(vp->msix.ctrl & MSIX_CTRL_ENABLE) || v >= vp->msix.nr)
		return; /* no INTx: MSI-X is required (docs/uvmm.md) */
	if (msix_vector_live(&vp->msix, v))
		vp->c.host->signal_msi(vp->c.host_ctx, msix_vector_addr(&vp->msix, v),
				       vp->msix.table[v].data);
	else
		vp->msix.pba |= 1ULL << v;
}

static void vpci_msix_changed(void *ctx, unsigned vector)
{
	struct virtio_pci *vp = ctx;
	uint64_t pending = vp->msix.pba;

	(void)vector;
	vpci_sync_irqs(vp);
	for (unsigned v = 0; pending && v < vp->msix.nr; v++) {
		if (!(pending & (1ULL << v)) || !msix_vector_live(&vp->msix, v))
			continue;
		vp->msix.pba &= ~(1ULL << v);
		vp->c.host->signal_msi(vp->c.host_ctx, msix_vector_addr(&vp->msix, v),
				       vp->msix.table[v].data);
	}
}

static bool vpci_msix_pending(void *ctx, unsigned vector)
{
	struct virtio_pci *vp = ctx;

	for (unsigned i = 0; i < vp->c.num_queues; i++) {
		struct pollfd p = {.fd = vp->q[i].call_fd, .events = POLLIN};

		if (vp->q[i].vector == vector && vp->q[i].bound_gsi < 0 && poll(&p, 1, 0) == 1)
			return true;
	}
	return false;
}

static const struct msix_ops vpci_msix_ops = {
	.changed = vpci_msix_changed,
	.pending = vpci_msix_pending,
};

/* ---- ioeventfds ------------------------------------------------------------ */

static void vpci_ioeventfds_set(struct virtio_pci *vp, uint64_t base, unsigned n, bool assign)
{
	for (unsigned i = 0; i < n; i++)
		vp->c.host->ioeventfd(vp->c.host_ctx, base + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * i,
				      vp->q[i].kick_fd, assign);
}

/* Puts the ioeventfds where BAR 4 is now; until then notify writes trap to us. */
static void vpci_sync_ioeventfds(struct virtio_pci *vp)
{
	uint16_t cmd = vp->pci.cfg[PCI_COMMAND] | vp->pci.cfg[PCI_COMMAND + 1] << 8;
	uint64_t base = (cmd & PCI_COMMAND_MEMORY) ? pci_bar_addr(&vp->pci, VIRTIO_PCI_BAR) : 0;
	unsigned i;

	if (base == vp->ioeventfd_base)
		return;
	if (vp->ioeventfd_base)
		vpci_ioeventfds_set(vp, vp->ioeventfd_base, vp->c.num_queues, false);
	vp->ioeventfd_base = 0;
	if (!base)
		return;
	for (i = 0; i < vp->c.num_queues; i++) {
		if (vp->c.host->ioeventfd(vp->c.host_ctx,
					  base + VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * i,
					  vp->q[i].kick_fd, true))
			break;
	}
	if (i < vp->c.num_queues) {
		pr_debug("virtio-pci %02x.0: no ioeventfd at %#llx; notifications trap",
			 vp->pci.slot, (unsigned long long)base);
		vpci_ioeventfds_set(vp, base, i, false);
		return;
	}
	vp->ioeventfd_base = base;
}

/* ---- status, reset, start -------------------------------------------------- */

static void vpci_drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) == sizeof(v))
		;
}

static void vpci_read_config(struct virtio_pci *vp)
{
	if (vp->c.config_size &&
	    vp->c.be->get_config(vp->c.be_ctx, 0, vp->config, vp->c.config_size))
		pr_warn("virtio-pci %02x.0: cannot read the device configuration", vp->pci.slot);
}

static void vpci_reset(struct virtio_pci *vp)
{
	if (vp->started)
		vp->c.be->stop(vp->c.be_ctx, vp->q, vp->c.num_queues);
	vp->started = false;
	for (unsigned i = 0; i < vp->c.num_queues; i++) {
		struct vpci_queue *q = &vp->q[i];

		if (q->bound_gsi >= 0)
			vp->c.host->irqfd(vp->c.host_ctx, (unsigned)q->bound_gsi, q->call_fd,
					  false);
		vpci_drain(q->kick_fd);
		vpci_drain(q->call_fd);
		*q = (struct vpci_queue){.size = vp->c.queue_size,
					 .max_size = vp->c.queue_size,
					 .vector = MSIX_NO_VECTOR,
					 .kick_fd = q->kick_fd,
					 .call_fd = q->call_fd,
					 .bound_gsi = -1};
	}
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->config_vector = MSIX_NO_VECTOR;
	vp->status = vp->isr = 0;
	vp->queue_select = 0;
	vp->msix.pba = 0;
	vpci_read_config(vp);
}

/* Checks a ring the driver placed and finds it in guest RAM. */
static void *vpci_ring(struct virtio_pci *vp, uint64_t gpa, uint64_t len, uint64_t align)
{
	if (gpa & (align - 1))
		return NULL;
	return gmem_hva(vp->c.mem, gpa, len);
}

static int vpci_start(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->c.num_queues; i++) {
		struct vpci_queue *q = &vp->q[i];
		uint64_t n = q->size;

		if (!q->enabled)
			continue;
		if (!n || n > q->max_size || (n & (n - 1)))
			return -EINVAL;
		q->desc_hva = vpci_ring(vp, q->desc, 16 * n, 16);
		q->avail_hva = vpci_ring(vp, q->avail, 6 + 2 * n, 2);
		q->used_hva = vpci_ring(vp, q->used, 6 + 8 * n, 4);
		if (!q->desc_hva || !q->avail_hva || !q->used_hva)
			return -EFAULT;
	}
	return vp->c.be->start(vp->c.be_ctx, vp->driver_features, vp->q, vp->c.num_queues);
}

static void vpci_set_status(struct virtio_pci *vp, uint8_t val)
{
	uint8_t old = vp->status;
	int err;

	if (!val) {
		vpci_reset(vp);
		return;
	}
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    ((vp->driver_features & ~vp->offered) ||
	     !(vp->driver_features & VIRTIO_F_BIT(VIRTIO_F_V1_BIT))))
		val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	val |= old & VIRTIO_STATUS_NEEDS_RESET;
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		err = (val & VIRTIO_STATUS_FEATURES_OK) ? vpci_start(vp) : -EINVAL;
		if (err) {
			pr_warn("virtio-pci %02x.0: cannot start the device: %s", vp->pci.slot,
				strerror(-err));
			val |= VIRTIO_STATUS_NEEDS_RESET;
		} else {
			vp->started = true;
		}
	}
	vp->status = val;
	if ((val & VIRTIO_STATUS_NEEDS_RESET) && !(old & VIRTIO_STATUS_NEEDS_RESET))
		vpci_config_irq(vp);
}

/* ---- common configuration -------------------------------------------------- */

static void vpci_common_read(struct virtio_pci *vp, uint64_t off, void *data, unsigned len)
{
	uint8_t r[VPCI_COMMON_LEN] = {0};
	struct vpci_queue *q = vpci_selected(vp);

	le_put32(r + VPCI_DFSELECT, vp->dfselect);
	if (vp->dfselect < 2)
		le_put32(r + VPCI_DF, (uint32_t)(vp->offered >> (32 * vp->dfselect)));
	le_put32(r + VPCI_GFSELECT, vp->gfselect);
	if (vp->gfselect < 2)
		le_put32(r + VPCI_GF, (uint32_t)(vp->driver_features >> (32 * vp->gfselect)));
	le_put16(r + VPCI_MSIX_CONFIG, vp->config_vector);
	le_put16(r + VPCI_NUM_QUEUES, (uint16_t)vp->c.num_queues);
	r[VPCI_STATUS] = vp->status;
	r[VPCI_CFG_GENERATION] = vp->generation;
	le_put16(r + VPCI_Q_SELECT, vp->queue_select);
	le_put16(r + VPCI_Q_MSIX, MSIX_NO_VECTOR);
	if (q) { /* a size of 0 tells the driver the queue does not exist */
		le_put16(r + VPCI_Q_SIZE, q->size);
		le_put16(r + VPCI_Q_MSIX, q->vector);
		le_put16(r + VPCI_Q_ENABLE, q->enabled);
		le_put16(r + VPCI_Q_NOFF, vp->queue_select);
		le_put64(r + VPCI_Q_DESC, q->desc);
		le_put64(r + VPCI_Q_AVAIL, q->avail);
		le_put64(r + VPCI_Q_USED, q->used);
	}
	memset(data, 0, len);
	if (off < VPCI_COMMON_LEN)
		memcpy(data, r + off, len < VPCI_COMMON_LEN - off ? len : VPCI_COMMON_LEN - off);
}

/* Writes one half or all of a 64-bit ring address. */
static void vpci_addr_write(uint64_t *addr, unsigned half, unsigned len, uint64_t v)
{
	if (len == 8 && !half)
		*addr = v;
	else if (len == 4)
		*addr = half ? (*addr & 0xffffffffULL) | v << 32 : (*addr & ~0xffffffffULL) | v;
}

static void vpci_queue_write(struct virtio_pci *vp, unsigned reg, unsigned len, uint64_t v)
{
	struct vpci_queue *q = vpci_selected(vp);
	bool live = vp->status & VIRTIO_STATUS_DRIVER_OK;

	if (!q)
		return;
	if (reg == VPCI_Q_MSIX && len == 2) {
		q->vector = v < vp->msix.nr ? (uint16_t)v : MSIX_NO_VECTOR;
		vpci_sync_irqs(vp);
		return;
	}
	if (live) /* the driver may not change a running queue */
		return;
	if (reg == VPCI_Q_SIZE && len == 2)
		q->size = (uint16_t)v;
	else if (reg == VPCI_Q_ENABLE && len == 2 && v == 1)
		q->enabled = true;
	else if (reg >= VPCI_Q_DESC && reg < VPCI_Q_DESC + 8)
		vpci_addr_write(&q->desc, reg & 4, len, v);
	else if (reg >= VPCI_Q_AVAIL && reg < VPCI_Q_AVAIL + 8)
		vpci_addr_write(&q->avail, reg & 4, len, v);
	else if (reg >= VPCI_Q_USED && reg < VPCI_Q_USED + 8)
		vpci_addr_write(&q->used, reg & 4, len, v);
}

static void vpci_common_write(struct virtio_pci *vp, uint64_t off, const void *data, unsigned len)
{
	uint64_t v = 0;

	/* Registers are accessed at their own size and alignment; the rest is dropped. */
	if (off >= VPCI_COMMON_LEN || (off & (len - 1)))
		return;
	memcpy(&v, data, len);
	if (off == VPCI_DFSELECT && len == 4) {
		vp->dfselect = (uint32_t)v;
	} else if (off == VPCI_GFSELECT && len == 4) {
		vp->gfselect = (uint32_t)v;
	} else if (off == VPCI_GF && len == 4) {
		if (vp->gfselect < 2 && !(vp->status & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned sh = 32 * vp->gfselect;

			vp->driver_features &= ~(0xffffffffULL << sh);
			vp->driver_features |= v << sh;
		}
	} else if (off == VPCI_MSIX_CONFIG && len == 2) {
		vp->config_vector = v < vp->msix.nr ? (uint16_t)v : MSIX_NO_VECTOR;
	} else if (off == VPCI_STATUS && len == 1) {
		vpci_set_status(vp, (uint8_t)v);
	} else if (off == VPCI_Q_SELECT && len == 2) {
		vp->queue_select = (uint16_t)v;
	} else if (off >= VPCI_Q_SIZE) {
		vpci_queue_write(vp, (unsigned)off, len, v);
	}
}

/* ---- BAR 4 ------------------------------------------------------------------ */

static void vpci_bar_access(struct virtio_pci *vp, uint64_t off, void *data, unsigned len,
			    bool is_write)
{
	uint64_t rel = off % VPCI_REGION_SIZE;
	uint64_t v = 1;

	if (!is_write)
		memset(data, 0, len);
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	switch (off / VPCI_REGION_SIZE * VPCI_REGION_SIZE) {
	case VPCI_COMMON_OFF:
		if (is_write)
			vpci_common_write(vp, rel, data, len);
		else
			vpci_common_read(vp, rel, data, len);
		break;
	case VPCI_ISR_OFF:
		if (!is_write && rel == 0) { /* reading acknowledges */
			*(uint8_t *)data = vp->isr;
			vp->isr = 0;
		}
		break;
	case VPCI_DEVICE_OFF:
		if (rel >= vp->c.config_size || vp->c.config_size - rel < len)
			break;
		if (!is_write) {
			memcpy(data, vp->config + rel, len);
		} else {
			memcpy(vp->config + rel, data, len);
			vp->c.be->set_config(vp->c.be_ctx, (uint32_t)rel, data, len);
		}
		break;
	case VPCI_NOTIFY_OFF:
		/* Only reached while no ioeventfd sits on the address. */
		if (!is_write || rel / VPCI_NOTIFY_MULT >= vp->c.num_queues)
			break;
		vp->trapped_kicks++;
		if (write(vp->q[rel / VPCI_NOTIFY_MULT].kick_fd, &v, sizeof(v)) < 0)
			pr_debug("virtio-pci: kick: %s", strerror(errno));
		break;
	case VPCI_MSIX_TABLE_OFF:
		if (is_write)
			msix_table_write(&vp->msix, rel, data, len);
		else
			msix_table_read(&vp->msix, rel, data, len);
		break;
	case VPCI_MSIX_PBA_OFF:
		if (!is_write)
			msix_pba_read(&vp->msix, rel, data, len);
		break;
	}
}

void virtio_pci_bar_read(struct virtio_pci *vp, uint64_t off, void *data, unsigned len)
{
	pthread_mutex_lock(&vp->lock);
	vpci_bar_access(vp, off, data, len, false);
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_bar_write(struct virtio_pci *vp, uint64_t off, const void *data, unsigned len)
{
	pthread_mutex_lock(&vp->lock);
	vpci_bar_access(vp, off, (void *)data, len, true);
	pthread_mutex_unlock(&vp->lock);
}

static void vpci_bar_read_op(void *opaque, uint64_t off, void *data, unsigned len)
{
	virtio_pci_bar_read(opaque, off, data, len);
}

static void vpci_bar_write_op(void *opaque, uint64_t off, const void *data, unsigned len)
{
	virtio_pci_bar_write(opaque, off, data, len);
}

static const struct bus_ops vpci_bar_ops = {.read = vpci_bar_read_op, .write = vpci_bar_write_op};

/* ---- configuration space ------------------------------------------------------- */

/* The PCI_CFG capability's window onto the BARs (virtio spec 4.1.4.9). */
static bool vpci_window(struct virtio_pci *vp, void *data, bool is_write)
{
	uint8_t *cap = vp->pci.cfg + VPCI_CAP_PCI_CFG;
	uint32_t off = le_get32(cap + 8), len = le_get32(cap + 12);

	if (cap[4] != VIRTIO_PCI_BAR || (len != 1 && len != 2 && len != 4) || (off & (len - 1)) ||
	    off >= VIRTIO_PCI_BAR_SIZE)
		return false;
	vpci_bar_access(vp, off, data, len, is_write);
	return true;
}

static bool vpci_cfg_read(struct pci_dev *d, unsigned off, unsigned len, uint32_t *val)
{
	struct virtio_pci *vp = d->opaque;
	uint8_t buf[4] = {0};

	if (off + len <= VPCI_CFG_DATA || off >= VPCI_CFG_DATA + 4)
		return false;
	pthread_mutex_lock(&vp->lock);
	if (vpci_window(vp, buf, false))
		memcpy(d->cfg + VPCI_CFG_DATA, buf, 4);
	*val = 0;
	memcpy(val, d->cfg + off, len);
	pthread_mutex_unlock(&vp->lock);
	return true;
}

static bool vpci_overlaps(unsigned off, unsigned len, unsigned start, unsigned n)
{
	return off < start + n && start < off + len;
}

static void vpci_cfg_written(struct pci_dev *d, unsigned off, unsigned len)
{
	struct virtio_pci *vp = d->opaque;
	uint8_t buf[4];

	pthread_mutex_lock(&vp->lock);
	if (vpci_overlaps(off, len, VPCI_CAP_MSIX + 2, 2))
		msix_set_ctrl(&vp->msix,
			      d->cfg[VPCI_CAP_MSIX + 2] | d->cfg[VPCI_CAP_MSIX + 3] << 8);
	if (vpci_overlaps(off, len, VPCI_CFG_DATA, 4)) {
		memcpy(buf, d->cfg + VPCI_CFG_DATA, 4);
		vpci_window(vp, buf, true);
	}
	if (vpci_overlaps(off, len, PCI_COMMAND, 2) ||
	    vpci_overlaps(off, len, PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR, 8))
		vpci_sync_ioeventfds(vp);
	pthread_mutex_unlock(&vp->lock);
}

static const struct pci_dev_ops vpci_dev_ops = {
	.cfg_written = vpci_cfg_written,
	.cfg_read = vpci_cfg_read,
};

static void vpci_cap(struct virtio_pci *vp, unsigned at, unsigned next, unsigned len, uint8_t type,
		     uint32_t off, uint32_t size)
{
	uint8_t *c = vp->pci.cfg + at;

	c[0] = PCI_CAP_ID_VNDR;
	c[1] = (uint8_t)next;
	c[2] = (uint8_t)len;
	c[3] = type;
	c[4] = VIRTIO_PCI_BAR;
	le_put32(c + 8, off);
	le_put32(c + 12, size);
}

static void vpci_fill_caps(struct virtio_pci *vp)
{
	uint8_t *w = vp->pci.wmask + VPCI_CAP_PCI_CFG;

	vp->pci.cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	vp->pci.cfg[PCI_CAPABILITY_LIST] = VPCI_CAP_COMMON;
	vpci_cap(vp, VPCI_CAP_COMMON, VPCI_CAP_ISR, 16, VIRTIO_PCI_CAP_COMMON_CFG, VPCI_COMMON_OFF,
		 VPCI_COMMON_LEN);
	vpci_cap(vp, VPCI_CAP_ISR, VPCI_CAP_DEVICE, 16, VIRTIO_PCI_CAP_ISR_CFG, VPCI_ISR_OFF, 1);
	vpci_cap(vp, VPCI_CAP_DEVICE, VPCI_CAP_NOTIFY, 16, VIRTIO_PCI_CAP_DEVICE_CFG,
		 VPCI_DEVICE_OFF, vp->c.config_size ? vp->c.config_size : 1);
	vpci_cap(vp, VPCI_CAP_NOTIFY, VPCI_CAP_PCI_CFG, 20, VIRTIO_PCI_CAP_NOTIFY_CFG,
		 VPCI_NOTIFY_OFF, VPCI_NOTIFY_MULT * vp->c.num_queues);
	le_put32(vp->pci.cfg + VPCI_CAP_NOTIFY + 16, VPCI_NOTIFY_MULT);
	vpci_cap(vp, VPCI_CAP_PCI_CFG, VPCI_CAP_MSIX, 20, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
	/* The window's bar, offset, length and data are the driver's to set. */
	vp->pci.cfg[VPCI_CAP_PCI_CFG + 4] = 0;
	w[4] = 0xff;
	memset(w + 8, 0xff, 12);
	msix_cap_fill(&vp->msix, vp->pci.cfg, vp->pci.wmask, VPCI_CAP_MSIX, 0, VIRTIO_PCI_BAR,
		      VPCI_MSIX_TABLE_OFF, VPCI_MSIX_PBA_OFF);
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_cfg *c)
{
	unsigned i;
	int err;

	if (!c->num_queues || c->num_queues > VPCI_MAX_QUEUES || c->config_size > VPCI_CONFIG_MAX ||
	    !c->queue_size || (c->queue_size & (c->queue_size - 1)))
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->c = *c;
	vp->offered = virtio_pci_filter_features(c->features);
	for (i = 0; i < MSIX_MAX_VECTORS; i++)
		vp->gsi[i] = -1;
	for (i = 0; i < VPCI_MAX_QUEUES; i++)
		vp->q[i].kick_fd = vp->q[i].call_fd = -1;
	for (i = 0; i < c->num_queues; i++) {
		vp->q[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vp->q[i].call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->q[i].kick_fd < 0 || vp->q[i].call_fd < 0) {
			err = -errno;
			virtio_pci_exit(vp);
			return err;
		}
	}
	pthread_mutex_init(&vp->lock, NULL);
	pci_dev_init(&vp->pci, VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + c->device_type,
		     c->class_code << 8 | 1, VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS_ID);
	pci_dev_set_bar(&vp->pci, VIRTIO_PCI_BAR, VIRTIO_PCI_BAR_SIZE, false, true, &vpci_bar_ops,
			vp);
	vp->pci.cfg[PCI_BASE_ADDRESS_0 + 4 * VIRTIO_PCI_BAR] |= PCI_BAR_PREFETCH;
	vp->pci.ops = &vpci_dev_ops;
	vp->pci.opaque = vp;
	msix_init(&vp->msix, c->num_queues + 1, &vpci_msix_ops, vp);
	vpci_fill_caps(vp);
	vpci_reset(vp);
	return 0;
}

void virtio_pci_exit(struct virtio_pci *vp)
{
	/* Many of these mean the ioeventfds are not where the guest writes. */
	if (vp->trapped_kicks)
		pr_debug("virtio-pci %02x.0: %llu notifications trapped to uvmm", vp->pci.slot,
			 (unsigned long long)vp->trapped_kicks);
	if (vp->started && vp->c.be)
		vp->c.be->stop(vp->c.be_ctx, vp->q, vp->c.num_queues);
	vp->started = false;
	for (unsigned i = 0; i < VPCI_MAX_QUEUES; i++) {
		if (vp->q[i].kick_fd >= 0)
			close(vp->q[i].kick_fd);
		if (vp->q[i].call_fd >= 0)
			close(vp->q[i].call_fd);
		vp->q[i].kick_fd = vp->q[i].call_fd = -1;
	}
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	vpci_read_config(vp);
	vp->generation++;
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		vpci_config_irq(vp);
	pthread_mutex_unlock(&vp->lock);
}

void virtio_pci_needs_reset(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	if (!(vp->status & VIRTIO_STATUS_NEEDS_RESET) && (vp->status & VIRTIO_STATUS_DRIVER_OK)) {
		vp->status |= VIRTIO_STATUS_NEEDS_RESET;
		vpci_config_irq(vp);
	}
	pthread_mutex_unlock(&vp->lock);
}
