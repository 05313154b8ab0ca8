import Foundation

extension PanelAssets {
    /// The retention, storage and jobs pages of /assets/panel.js, and the start of the script.
    static let scriptPages = #"""
        const tiers = [['keep-within', 'Keep everything younger than (e.g. 2d)', 'keepWithin'], ['keep-last', 'Keep the newest N', 'keepLast'],
          ['keep-hourly', 'Hourly (N hours)', 'keepHourly'], ['keep-daily', 'Daily (N days)', 'keepDaily'], ['keep-weekly', 'Weekly (N weeks)', 'keepWeekly'],
          ['keep-monthly', 'Monthly (N months)', 'keepMonthly'], ['keep-yearly', 'Yearly (N years)', 'keepYearly']];

        async function retentionPage() {
          const policy = await api('GET', '/vms/' + enc(vmName) + '/policy');
          const rules = policy.policy || {};
          const inputs = tiers.map(([key, label, field]) => {
            const value = rules[field];
            return [key, el('input', { id: 'tier-' + key, name: key, inputmode: key === 'keep-within' ? 'text' : 'numeric',
              value: value === null || value === undefined || value === 0 ? '' : value }), label];
          });
          const preview = el('div', { id: 'retention-preview', 'aria-live': 'polite' });
          const form = el('form', { id: 'retention-form', className: 'card' },
            el('h2', {}, 'Tiers'),
            el('p', { className: 'muted' }, 'Policy: ' + (policy.source || 'none') + '. Counts: 0 or empty = off, -1 = unlimited. '
              + 'The preview uses the same planner as prune --dry-run; nothing is deleted here.'),
            el('div', { className: 'tiers' }, inputs.map(([key, input, label]) => el('div', {}, el('label', { for: 'tier-' + key }, label), input))));
          let timer = null;
          const refresh = async () => {
            const query = inputs.filter(([, input]) => input.value.trim() !== '').map(([key, input]) => key + '=' + enc(input.value.trim())).join('&');
            try {
              const plan = await api('GET', '/vms/' + enc(vmName) + '/retention/preview' + (query ? '?' + query : ''));
              const kept = plan.filter((p) => p.action === 'keep').length;
              const pruned = plan.filter((p) => p.action === 'prune').length;
              const summary = kept + ' kept, ' + pruned + ' would be pruned, ' + (plan.length - kept - pruned) + ' left alone';
              preview.replaceChildren(el('p', { id: 'retention-summary' }, summary),
                table(['Snapshot', 'Decision', 'Why', 'Reclaims'], plan.map((p) => el('tr', { className: 'plan-' + p.action },
                  el('th', { scope: 'row' }, p.name), el('td', {}, p.action === 'leaveAlone' ? 'leave alone' : p.action), el('td', {}, p.reason || '—'),
                  el('td', {}, p.action === 'prune' ? bytes(p.reclaimBytes) : '—'))), 'Preview'));
            } catch (error) { preview.replaceChildren(el('p', { className: 'error', role: 'alert' }, error.message)); }
          };
          form.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(refresh, 250); });
          form.addEventListener('submit', (event) => event.preventDefault());
          setContent(form, preview);
          await refresh();
        }

        async function storagePage() {
          const usage = await api('GET', '/usage');
          const max = Math.max(1, ...usage.vms.map((v) => v.memoryBytes + v.layerBytes));
          const barHeight = 26; const labelWidth = 180; const width = 720;
          const ns = 'http://www.w3.org/2000/svg';
          const svg = document.createElementNS(ns, 'svg');
          svg.setAttribute('viewBox', '0 0 ' + width + ' ' + (usage.vms.length * (barHeight + 14) + 40));
          svg.setAttribute('role', 'img');
          svg.setAttribute('aria-label', 'Local snapshot storage per VM: memory images, shared and exclusive disk layers');
          const add = (tag, attrs, text) => {
            const node = document.createElementNS(ns, tag);
            for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
            if (text !== undefined) node.textContent = text;
            svg.append(node); return node;
          };
          usage.vms.forEach((v, i) => {
            const y = 10 + i * (barHeight + 14);
            add('text', { x: 0, y: y + 18, class: 'label' }, v.vm.length > 22 ? v.vm.slice(0, 21) + '…' : v.vm);
            let x = labelWidth;
            for (const [part, value] of [['memory', v.memoryBytes], ['shared', v.sharedBytes], ['exclusive', v.exclusiveBytes]]) {
              const w = (width - labelWidth - 90) * value / max;
              if (w > 0) add('rect', { x, y, width: w, height: barHeight, class: 'bar-' + part }).append(
                Object.assign(document.createElementNS(ns, 'title'), { textContent: part + ': ' + bytes(value) }));
              x += w;
            }
            add('text', { x: x + 6, y: y + 18, class: 'value' }, bytes(v.memoryBytes + v.layerBytes));
          });
          const legend = el('p', { className: 'legend' }, el('span', { className: 'key bar-memory' }), ' memory images ',
            el('span', { className: 'key bar-shared' }), ' shared layers ', el('span', { className: 'key bar-exclusive' }), ' exclusive layers');
          setContent(el('h2', {}, 'Local tier'), svg, legend,
            table(['VM', 'Snapshots', 'Memory', 'Layers', 'Shared', 'Exclusive'], usage.vms.map((v) => el('tr', {},
              el('th', { scope: 'row' }, v.vm), el('td', {}, v.snapshots), el('td', {}, bytes(v.memoryBytes)), el('td', {}, bytes(v.layerBytes)),
              el('td', {}, bytes(v.sharedBytes)), el('td', {}, bytes(v.exclusiveBytes))))),
            el('p', {}, 'Total: ' + bytes(usage.totalBytes)));
        }

        async function jobsPage() {
          const render = async () => {
            const jobs = await api('GET', '/jobs');
            const headers = ['ID', 'Kind', 'VM', 'Snapshot', 'State', 'Stage', 'Started', 'Duration', 'Error'];
            setContent(table(headers, jobs.map((j) => el('tr', { className: 'job-' + j.state },
              el('th', { scope: 'row' }, j.id), el('td', {}, j.kind), el('td', {}, j.vm || '—'), el('td', {}, j.snapshot || '—'), el('td', {}, j.state),
              el('td', {}, j.stage || '—'), el('td', {}, when(j.startedAt)),
              el('td', {}, j.durationSeconds === null ? '—' : j.durationSeconds.toFixed(1) + ' s'),
              el('td', {}, j.error || j.note || ''))), 'Jobs, newest first (live)'));
          };
          await render();
          let pending = null;
          const source = new EventSource('/api/v1/events');
          source.addEventListener('job', () => { if (!pending) pending = setTimeout(() => { pending = null; render().catch(fail); }, 300); });
        }

        document.getElementById('logout')?.addEventListener('click', async () => {
          await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': csrf }, credentials: 'same-origin' });
          location.href = '/login';
        });

        const pages = { overview, vm: vmPage, retention: retentionPage, storage: storagePage, jobs: jobsPage };
        (pages[page] || overview)().catch(fail);
        """#
}
