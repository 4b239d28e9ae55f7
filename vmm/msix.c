// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "le.h"
#include "msix.h"

void msix_init(struct msix *m, unsigned nr, const struct msix_ops *ops, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->nr = nr > MSIX_MAX_VECTORS ? MSIX_MAX_VECTORS : nr;
	m->ops = ops;
	m->ctx = ctx;
	msix_reset(m);
}

void msix_reset(struct msix *m)
{
	m->ctrl = 0;
	m->pba = 0;
	for (unsigned i = 0; i < m->nr; i++)
		m->table[i] = (struct msix_entry){.ctrl = MSIX_ENTRY_CTRL_MASK};
}

void msix_cap_fill(const struct msix *m, uint8_t *cfg, uint8_t *wmask, unsigned cap, unsigned next,
		   unsigned bar, uint32_t table_off, uint32_t pba_off)
{
	cfg[cap] = PCI_CAP_ID_MSIX;
	cfg[cap + 1] = (uint8_t)next;
	le_put16(cfg + cap + 2, (uint16_t)(m->nr - 1));
	le_put32(cfg + cap + 4, table_off | bar);
	le_put32(cfg + cap + 8, pba_off | bar);
	/* Only enable and function mask are the guest's; the table size is not. */
	wmask[cap + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
}

bool msix_vector_live(const struct msix *m, unsigned v)
{
	if (v >= m->nr || !(m->ctrl & MSIX_CTRL_ENABLE) || (m->ctrl & MSIX_CTRL_MASKALL))
		return false;
	return !(m->table[v].ctrl & MSIX_ENTRY_CTRL_MASK);
}

uint64_t msix_vector_addr(const struct msix *m, unsigned v)
{
	return (uint64_t)m->table[v].addr_hi << 32 | m->table[v].addr_lo;
}

void msix_set_ctrl(struct msix *m, uint16_t ctrl)
{
	ctrl &= MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL;
	if (ctrl == m->ctrl)
		return;
	m->ctrl = ctrl;
	if (m->ops && m->ops->changed)
		m->ops->changed(m->ctx, ~0u);
}

void msix_table_read(struct msix *m, uint64_t off, void *data, unsigned len)
{
	uint64_t end = (uint64_t)m->nr * MSIX_ENTRY_SIZE;

	memset(data, 0, len);
	/* Aligned dwords and qwords only (PCI 3.0 6.8.2). */
	if ((len != 4 && len != 8) || (off & (len - 1)) || off >= end || end - off < len)
		return;
	memcpy(data, (uint8_t *)m->table + off, len);
}

void msix_table_write(struct msix *m, uint64_t off, const void *data, unsigned len)
{
	uint64_t end = (uint64_t)m->nr * MSIX_ENTRY_SIZE;
	unsigned first, last;
	struct msix_entry old;

	if ((len != 4 && len != 8) || (off & (len - 1)) || off >= end || end - off < len)
		return;
	first = (unsigned)(off / MSIX_ENTRY_SIZE);
	last = (unsigned)((off + len - 1) / MSIX_ENTRY_SIZE);
	old = m->table[first];
	memcpy((uint8_t *)m->table + off, data, len);
	/* Reserved control bits read as zero. */
	m->table[first].ctrl &= MSIX_ENTRY_CTRL_MASK;
	if (last != first)
		return; /* aligned accesses never span entries */
	if (!memcmp(&old, &m->table[first], sizeof(old)))
		return;
	if (m->ops && m->ops->changed)
		m->ops->changed(m->ctx, first);
}

void msix_pba_read(struct msix *m, uint64_t off, void *data, unsigned len)
{
	uint64_t bits = m->pba;

	memset(data, 0, len);
	if ((len != 4 && len != 8) || (off & (len - 1)) || off + len > 8)
		return;
	for (unsigned v = 0; v < m->nr; v++)
		if (m->ops && m->ops->pending && m->ops->pending(m->ctx, v))
			bits |= 1ULL << v;
	bits >>= 8 * off;
	memcpy(data, &bits, len);
}

/* ---- KVM ---------------------------------------------------------------- */

int kvm_msi_chip_init(struct kvm_msi_chip *c, int vm_fd, unsigned gsi_base)
{
	memset(c, 0, sizeof(*c));
	c->vm_fd = vm_fd;
	c->gsi_base = gsi_base;
	return -pthread_mutex_init(&c->lock, NULL);
}

void kvm_msi_chip_exit(struct kvm_msi_chip *c)
{
	pthread_mutex_destroy(&c->lock);
}

int kvm_msi_gsi_alloc(struct kvm_msi_chip *c)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&c->lock);
	if (c->nr < KVM_MSI_MAX_ROUTES)
		gsi = (int)(c->gsi_base + c->nr++);
	pthread_mutex_unlock(&c->lock);
	return gsi;
}

/* The routes KVM_CREATE_IRQCHIP installs: ISA IRQs on both PICs and the IOAPIC. */
static unsigned kvm_msi_default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;

	for (unsigned gsi = 0; gsi < 24; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi},
		};
		if (gsi >= 16)
			continue;
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							 : KVM_IRQCHIP_PIC_SLAVE,
				      .pin = gsi % 8},
		};
	}
	return n;
}

/* Called with c->lock held. */
static int kvm_msi_commit(struct kvm_msi_chip *c)
{
	struct kvm_irq_routing *r;
	unsigned n;
	int ret = 0;

	r = calloc(1, sizeof(*r) + (40 + KVM_MSI_MAX_ROUTES) * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	n = kvm_msi_default_routes(r->entries);
	for (unsigned i = 0; i < c->nr; i++) {
		if (!c->routes[i].valid)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = c->gsi_base + i,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = {.address_lo = (uint32_t)c->routes[i].addr,
				  .address_hi = (uint32_t)(c->routes[i].addr >> 32),
				  .data = c->routes[i].data},
		};
	}
	r->nr = n;
	if (ioctl(c->vm_fd, KVM_SET_GSI_ROUTING, r))
		ret = -errno;
	free(r);
	return ret;
}

int kvm_msi_gsi_route(struct kvm_msi_chip *c, unsigned gsi, uint64_t addr, uint32_t data)
{
	unsigned i = gsi - c->gsi_base;
	int ret = 0;

	pthread_mutex_lock(&c->lock);
	if (gsi < c->gsi_base || i >= c->nr) {
		ret = -EINVAL;
	} else if (!c->routes[i].valid || c->routes[i].addr != addr || c->routes[i].data != data) {
		c->routes[i].addr = addr;
		c->routes[i].data = data;
		c->routes[i].valid = true;
		ret = kvm_msi_commit(c);
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int kvm_msi_irqfd(struct kvm_msi_chip *c, unsigned gsi, int fd, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(c->vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

int kvm_msi_signal(struct kvm_msi_chip *c, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	/* 0 means the guest blocked it (a masked LAPIC vector), which is fine. */
	return ioctl(c->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
