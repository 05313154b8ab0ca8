import Foundation

extension PanelAssets {
    /// The retention, storage and jobs pages of /assets/panel.js, and the start of the script.
    static let scriptPages = #"""
        const tiers = [['keep-within', 'Keep everything younger than (e.g. 2d)', 'keepWithin'], ['keep-last', 'Keep the newest N', 'keepLast'],
          ['keep-hourly', 'Hourly (N hours)', 'keepHourly'], ['keep-daily', 'Daily (N days)', 'keepDaily'], ['keep-weekly', 'Weekly (N weeks)', 'keepWeekly'],
          ['keep-monthly', 'Monthly (N months)', 'keepMonthly'], ['keep-yearly', 'Yearly (N years)', 'keepYearly']];

        async function retentionPage() {
          let policy = await api('GET', '/vms/' + enc(vmName) + '/policy');
          const rules = policy.policy || {};
          const inputs = tiers.map(([key, label, field]) => {
            const value = rules[field];
            return [key, el('input', { id: 'tier-' + key, name: key, inputmode: key === 'keep-within' ? 'text' : 'numeric',
              value: value === null || value === undefined || value === 0 ? '' : value }), label, field];
          });
          const preview = el('div', { id: 'retention-preview', 'aria-live': 'polite' });
          const source = el('p', { id: 'policy-source', className: 'muted' });
          const save = el('button', { type: 'submit', id: 'policy-save', className: 'primary' }, 'Save policy');
          const pruneButton = el('button', { type: 'button', id: 'prune-open', className: 'danger' }, 'Prune now…');
          const form = el('form', { id: 'retention-form', className: 'card' },
            el('h2', {}, 'Tiers'), source,
            el('div', { className: 'tiers' }, inputs.map(([key, input, label]) => el('div', {}, el('label', { for: 'tier-' + key }, label), input))),
            el('div', { className: 'buttons' }, save, pruneButton));
          let dirty = false;
          const showSource = () => {
            source.textContent = 'Policy: ' + (policy.source === 'vm' ? vmName + "'s own" : policy.source === 'default' ? 'the default (saving stores '
              + vmName + "'s own)" : 'none yet') + '. Counts: 0 or empty = off, -1 = unlimited. The preview uses the same planner as '
              + 'prune --dry-run; nothing is deleted until you save and prune.';
            pruneButton.disabled = dirty || !policy.policy;
            pruneButton.title = dirty ? 'Save the policy first: Prune now uses the saved policy' : '';
          };
          showSource();
          let timer = null;
          const refresh = async () => {
            const query = inputs.filter(([, input]) => input.value.trim() !== '').map(([key, input]) => key + '=' + enc(input.value.trim())).join('&');
            try {
              const plan = await api('GET', '/vms/' + enc(vmName) + '/retention/preview' + (query ? '?' + query : ''));
              preview.replaceChildren(planTable(plan, 'Preview'));
            } catch (error) { preview.replaceChildren(el('p', { className: 'error', role: 'alert' }, error.message)); }
          };
          form.addEventListener('input', () => { dirty = true; showSource(); clearTimeout(timer); timer = setTimeout(refresh, 250); });
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            // The fields the page does not edit (schedule, vault, ...) are sent back as loaded: saving replaces the whole policy.
            const body = Object.assign({}, policy.policy || {});
            for (const [key, input, , field] of inputs) {
              const text = input.value.trim();
              if (key === 'keep-within') { body[field] = text === '' ? null : text; continue; }
              if (text !== '' && !/^-?[0-9]+$/.test(text)) { status('--' + key + ' must be a whole number (nothing was saved)', true); return; }
              body[field] = text === '' ? 0 : Number(text);
            }
            save.disabled = true;
            try {
              policy = await api('PUT', '/vms/' + enc(vmName) + '/policy', body);
              dirty = false;
              status('Saved ' + vmName + "'s retention policy.");
            } catch (error) { status('Not saved: ' + error.message, true); }
            save.disabled = false;
            showSource();
            await refresh();
          });
          pruneButton.addEventListener('click', () => openPrune(refresh));
          setContent(form, preview);
          await refresh();
        }

        function planTable(plan, caption) {
          const kept = plan.filter((p) => p.action === 'keep').length;
          const pruned = plan.filter((p) => p.action === 'prune').length;
          const summary = kept + ' kept, ' + pruned + ' would be pruned, ' + (plan.length - kept - pruned) + ' left alone';
          return el('div', {}, el('p', { id: 'retention-summary' }, summary),
            table(['Snapshot', 'Decision', 'Why', 'Reclaims'], plan.map((p) => el('tr', { className: 'plan-' + p.action },
              el('th', { scope: 'row' }, p.name), el('td', {}, p.action === 'leaveAlone' ? 'leave alone' : p.action), el('td', {}, p.reason || '—'),
              el('td', {}, p.action === 'prune' ? bytes(p.reclaimBytes) : '—'))), caption));
        }

        /** Prune now: the saved policy's plan, the VM name typed to confirm, then the prune job followed live. */
        async function openPrune(done) {
          const plan = await api('GET', '/vms/' + enc(vmName) + '/retention/preview').catch((error) => { status(error.message, true); return null; });
          if (!plan) return;
          const doomed = plan.filter((p) => p.action === 'prune').map((p) => p.name);
          const input = el('input', { id: 'prune-confirm', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });
          const button = el('button', { type: 'submit', id: 'prune-submit', className: 'danger', disabled: true }, 'Prune ' + vmName);
          const result = el('p', { id: 'prune-result', role: 'status' });
          const form = el('form', {},
            el('p', {}, doomed.length ? 'The saved policy deletes ' + doomed.length + ' snapshot(s): ' + doomed.join(', ') + '.'
              : 'The saved policy deletes nothing now.'),
            el('label', { for: 'prune-confirm' }, 'Type the VM name ', el('strong', {}, vmName), ' to confirm'), input,
            el('div', { className: 'buttons' }, el('button', { type: 'button', id: 'prune-cancel', onclick: () => box.close() }, 'Close'), button),
            result);
          input.addEventListener('input', () => { button.disabled = input.value !== vmName; });
          const box = dialog('prune-dialog', 'Prune ' + vmName + ' now', form);
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            if (input.value !== vmName) return;
            button.disabled = true; input.disabled = true;
            try {
              const started = await api('POST', '/vms/' + enc(vmName) + '/prune', { confirm: input.value });
              followJob(started.job, result, (j) => {
                const record = j.details ? JSON.parse(j.details) : { deleted: [] };
                done();
                return record.deleted.length ? 'Pruned ' + record.deleted.length + ': ' + record.deleted.join(', ') + '.' : 'Nothing to prune.';
              });
            } catch (error) { result.textContent = 'Refused: ' + error.message; result.className = 'error'; input.disabled = false; }
          });
        }

        /** Follows a job's events into `result`: its stage while it runs, then `summary(job)` or its error. */
        function followJob(job, result, summary) {
          result.textContent = 'Job ' + job + ' running…'; result.className = '';
          const source = new EventSource('/api/v1/jobs/' + job + '/events');
          source.addEventListener('job', async (event) => {
            const j = JSON.parse(event.data);
            if (j.state === 'running') { result.textContent = 'Job ' + job + ' running' + (j.stage ? ': ' + j.stage : '') + '…'; return; }
            source.close();
            if (j.state === 'succeeded') {
              try { result.textContent = await summary(j); result.className = 'ok'; }
              catch (error) { result.textContent = error.message; result.className = 'error'; }
            } else {
              result.textContent = 'Job ' + job + ' failed' + (j.stage ? ' at ' + j.stage : '') + ': ' + (j.error || j.state); result.className = 'error';
              if (j.kind === 'drill') { try { await summary(j); } catch (error) { /* the error above says it */ } }
            }
          });
          source.onerror = () => { if (source.readyState === EventSource.CLOSED && !result.className) result.textContent += ' (stream closed)'; };
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
