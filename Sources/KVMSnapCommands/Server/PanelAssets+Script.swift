import Foundation

extension PanelAssets {
    /// The first part of /assets/panel.js: helpers, the overview and the tree order of snapshots.
    static let scriptCore = #"""
        'use strict';
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const page = document.body.dataset.page;
        const vmName = document.body.dataset.vm || '';
        const content = document.getElementById('content');

        function el(tag, attrs, ...children) {
          const node = document.createElement(tag);
          for (const [key, value] of Object.entries(attrs || {})) {
            if (value === null || value === undefined || value === false) continue;
            if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
            else if (key === 'className') node.className = value;
            else node.setAttribute(key, value === true ? '' : value);
          }
          for (const child of children.flat()) {
            if (child === null || child === undefined) continue;
            node.append(child instanceof Node ? child : String(child));
          }
          return node;
        }

        async function api(method, path, body) {
          const options = { method, headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' };
          if (body !== undefined) { options.headers['Content-Type'] = 'application/json'; options.body = JSON.stringify(body); }
          const response = await fetch('/api/v1' + path, options);
          if (response.status === 401) { location.href = '/login'; throw new Error('logged out'); }
          const text = await response.text();
          const data = text ? JSON.parse(text) : null;
          if (!response.ok) throw new Error((data && data.error) || response.statusText);
          return data;
        }

        const enc = encodeURIComponent;
        function bytes(n) {
          const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
          let i = 0; let v = n;
          while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
          return (i === 0 ? v : v.toFixed(1)) + ' ' + units[i];
        }
        function when(iso) { return iso ? new Date(iso).toLocaleString() : '—'; }
        function age(iso) {
          const s = (Date.now() - new Date(iso).getTime()) / 1000;
          if (s < 90) return Math.round(s) + ' s';
          if (s < 5400) return Math.round(s / 60) + ' min';
          if (s < 129600) return Math.round(s / 3600) + ' h';
          return Math.round(s / 86400) + ' d';
        }
        /** A restore point older than this is shown red. */
        const staleSeconds = 2 * 86400;

        function setContent(...nodes) { content.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined)); }
        function fail(error) { setContent(el('p', { className: 'error', role: 'alert' }, 'Error: ' + error.message)); }
        function status(message, isError) {
          const box = document.getElementById('status');
          box.textContent = message;
          box.className = isError ? 'error' : 'ok';
        }

        function table(headers, rows, caption) {
          return el('div', { className: 'scroll' }, el('table', {},
            caption ? el('caption', {}, caption) : null,
            el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
            el('tbody', {}, rows)));
        }

        /** Per VM UUID: bytes its sends stored in each vault ({total, parts, errors}) from vault snapshots --json. */
        async function vaultUsage() {
          const vaults = await api('GET', '/vaults').catch(() => []);
          const byVM = new Map();
          const errors = [];
          await Promise.all(vaults.map(async (v) => {
            try {
              for (const s of await api('GET', '/vaults/' + enc(v.name) + '/snapshots')) {
                const entry = byVM.get(s.vmUUID) || { total: 0, parts: new Map() };
                entry.total += s.storedBytes;
                entry.parts.set(v.name, (entry.parts.get(v.name) || 0) + s.storedBytes);
                byVM.set(s.vmUUID, entry);
              }
            } catch (error) { errors.push(v.name + ': ' + error.message); }
          }));
          return { vaults, byVM, errors };
        }

        function drillCell(d) {
          if (!d) return el('td', { className: 'muted' }, 'never');
          const failed = (d.checks || []).find((c) => !c.passed);
          return el('td', { className: d.passed ? 'fresh' : 'stale', title: d.snapshot + ', ' + when(d.endedAt) },
            (d.passed ? 'passed' : 'FAILED' + (failed ? ' (' + failed.name + ')' : '')) + ', ' + age(d.endedAt) + ' ago'
            + (d.recoverySeconds !== null && d.recoverySeconds !== undefined ? ', recovery ' + d.recoverySeconds.toFixed(1) + ' s' : ''));
        }

        async function overview() {
          const [vms, usage, vault, drills] = await Promise.all([api('GET', '/vms'), api('GET', '/usage'), vaultUsage(),
            api('GET', '/drills?limit=1000').catch(() => [])]);
          const local = new Map(usage.vms.map((u) => [u.uuid, u.memoryBytes + u.layerBytes]));
          const lastDrill = new Map();
          for (const d of drills) if (!lastDrill.has(d.vmUUID)) lastDrill.set(d.vmUUID, d);
          const rows = await Promise.all(vms.map(async (vm) => {
            let newest = null;
            if (vm.snapshots > 0) {
              const snaps = await api('GET', '/vms/' + enc(vm.name) + '/snapshots').catch(() => []);
              for (const s of snaps) if (s.state === 'ready' && (!newest || s.createdAt > newest.createdAt)) newest = s;
            }
            const stale = !newest || (Date.now() - new Date(newest.createdAt).getTime()) / 1000 > staleSeconds;
            const inVault = vault.byVM.get(vm.uuid);
            const vaultText = inVault ? bytes(inVault.total) + ' in ' + [...inVault.parts.keys()].join(', ') : (vault.vaults.length ? 'none' : 'no vault');
            return el('tr', { 'data-vm': vm.name },
              el('th', { scope: 'row' }, el('a', { href: '/vms/' + enc(vm.name) }, vm.name)),
              el('td', {}, vm.state), el('td', {}, vm.snapshots),
              el('td', {}, newest ? newest.name + ' (' + when(newest.createdAt) + ')' : 'none'),
              el('td', { className: stale ? 'stale' : 'fresh' }, newest ? age(newest.createdAt) + (stale ? ' — stale' : '') : 'no restore point'),
              el('td', { className: 'usage-local' }, bytes(local.get(vm.uuid) || 0)),
              el('td', { className: 'usage-vault', title: inVault ? [...inVault.parts].map(([n, b]) => n + ': ' + bytes(b)).join(', ') : null }, vaultText),
              drillCell(lastDrill.get(vm.uuid)));
          }));
          setContent(vms.length ? table(['VM', 'State', 'Snapshots', 'Newest restore point', 'Age', 'Local usage', 'Vault usage', 'Last drill'], rows,
            'Virtual machines') : el('p', {}, 'No VMs on this connection.'),
            vault.errors.length ? el('p', { className: 'error', role: 'alert' }, 'Vaults not read: ' + vault.errors.join('; ')) : null);
        }

        /** Snapshots in tree order (parents before children, oldest first) with their depth. */
        function treeOrder(snaps) {
          const byName = new Map(snaps.map((s) => [s.name, s]));
          const children = new Map();
          for (const s of snaps) {
            const parent = s.parent && byName.has(s.parent) ? s.parent : '';
            if (!children.has(parent)) children.set(parent, []);
            children.get(parent).push(s);
          }
          const out = [];
          const stack = (children.get('') || []).slice().reverse().map((s) => [s, 0]);
          while (stack.length) {
            const [s, depth] = stack.pop();
            out.push([s, depth]);
            for (const c of (children.get(s.name) || []).slice().reverse()) stack.push([c, depth + 1]);
          }
          return out;
        }
        """#
}
