import Foundation

extension PanelAssets {
    /// The VM page of /assets/panel.js: snapshot table, create, edit, pin, delete, send to a vault, drill, the restore dialog and its live stages.
    static let scriptVM = #"""
        async function vmPage() {
          const snaps = await api('GET', '/vms/' + enc(vmName) + '/snapshots');
          const rows = treeOrder(snaps).map(([s, depth]) => el('tr', { 'data-snapshot': s.name },
            el('th', { scope: 'row' }, el('span', { className: 'indent', style: null }, '\u00a0\u00a0'.repeat(depth) + (depth ? '└ ' : '')), s.name,
              s.description ? el('div', { className: 'muted' }, s.description) : null),
            el('td', {}, el('span', { className: 'badge ' + s.kind }, s.kind)),
            el('td', {}, s.parent || '—'), el('td', {}, when(s.createdAt)), el('td', {}, bytes(s.diskBytes + s.memoryBytes)),
            el('td', {}, s.hasMemory ? 'yes' : 'no'), el('td', {}, s.pinned ? 'pinned' : ''), el('td', {}, s.expiresAt ? when(s.expiresAt) : '—'),
            el('td', {}, s.state),
            el('td', { className: 'actions' },
              el('button', { type: 'button', className: 'primary', onclick: () => openRestore(s, snaps), disabled: s.state !== 'ready' }, 'Restore…'),
              el('button', { type: 'button', onclick: () => openEdit(s) }, 'Edit…'),
              el('button', { type: 'button', onclick: () => patch(s, { pinned: !s.pinned }) }, s.pinned ? 'Unpin' : 'Pin'),
              el('button', { type: 'button', onclick: () => openSend(s), disabled: s.state !== 'ready' }, 'Send to vault…'),
              el('button', { type: 'button', onclick: () => openDrill(s), disabled: s.state !== 'ready' }, 'Drill…'),
              el('button', { type: 'button', className: 'danger', onclick: () => remove(s) }, 'Delete…'))));
          setContent(createForm(),
            el('p', {}, el('a', { href: '/vms/' + enc(vmName) + '/retention' }, 'Retention policy and preview')),
            snaps.length ? table(['Snapshot', 'Type', 'Parent', 'Created', 'Size', 'Memory', 'Pinned', 'Expires', 'State', 'Actions'], rows,
              'Snapshots of ' + vmName)
              : el('p', {}, 'No snapshots yet.'));
        }

        function createForm() {
          const form = el('form', { id: 'create-form', className: 'card' },
            el('h2', {}, 'New snapshot'),
            el('label', { for: 'create-name' }, 'Name'), el('input', { id: 'create-name', name: 'name', required: true, maxlength: 64 }),
            el('label', { for: 'create-description' }, 'Description'), el('input', { id: 'create-description', name: 'description' }),
            el('label', { for: 'create-expires' }, 'Expires (14d, 36h, 2w or YYYY-MM-DD; empty: never)'),
            el('input', { id: 'create-expires', name: 'expires' }),
            el('label', { className: 'check' }, el('input', { type: 'checkbox', id: 'create-full', name: 'full' }), ' Full (standalone copy of every disk)'),
            el('label', { className: 'check' }, el('input', { type: 'checkbox', id: 'create-pin', name: 'pin' }), ' Pin (never pruned)'),
            el('button', { type: 'submit', id: 'create-submit', className: 'primary' }, 'Create snapshot'));
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            const body = { name: form.name.value, description: form.description.value, full: form.full.checked, pin: form.pin.checked };
            if (form.expires.value) body.expires = form.expires.value;
            form.querySelector('button').disabled = true;
            status('Creating snapshot ' + body.name + '…');
            try {
              await api('POST', '/vms/' + enc(vmName) + '/snapshots', body);
              status('Created snapshot ' + body.name + '.');
              await vmPage();
            } catch (error) { status('Create failed: ' + error.message, true); form.querySelector('button').disabled = false; }
          });
          return form;
        }

        async function patch(s, body) {
          try { await api('PATCH', '/vms/' + enc(vmName) + '/snapshots/' + enc(s.name), body); status('Updated ' + s.name + '.'); await vmPage(); }
          catch (error) { status('Update failed: ' + error.message, true); }
        }

        async function remove(s) {
          const question = 'Delete snapshot "' + s.name + '" of ' + vmName + ' (created ' + when(s.createdAt) + ')? Other snapshots keep what they restore.';
          if (!confirm(question)) return;
          try { await api('DELETE', '/vms/' + enc(vmName) + '/snapshots/' + enc(s.name)); status('Deleted ' + s.name + '.'); await vmPage(); }
          catch (error) { status('Delete failed: ' + error.message, true); }
        }

        function dialog(id, title, ...body) {
          document.getElementById(id)?.remove();
          const box = el('dialog', { id, 'aria-labelledby': id + '-title' }, el('h2', { id: id + '-title' }, title), ...body);
          document.body.append(box);
          box.showModal();
          return box;
        }

        function openEdit(s) {
          const form = el('form', { method: 'dialog' },
            el('label', { for: 'edit-name' }, 'Name'), el('input', { id: 'edit-name', value: s.name, maxlength: 64, required: true }),
            el('label', { for: 'edit-description' }, 'Description'), el('input', { id: 'edit-description', value: s.description }),
            el('label', { for: 'edit-expires' }, 'Expires (14d, YYYY-MM-DD, "never"; empty: unchanged)'), el('input', { id: 'edit-expires' }),
            el('div', { className: 'buttons' }, el('button', { type: 'button', onclick: () => box.close() }, 'Cancel'),
              el('button', { type: 'submit', className: 'primary' }, 'Save')));
          const box = dialog('edit-dialog', 'Edit snapshot ' + s.name, form);
          form.addEventListener('submit', (event) => {
            event.preventDefault();
            const body = {};
            if (form.querySelector('#edit-name').value !== s.name) body.name = form.querySelector('#edit-name').value;
            if (form.querySelector('#edit-description').value !== s.description) body.description = form.querySelector('#edit-description').value;
            if (form.querySelector('#edit-expires').value) body.expires = form.querySelector('#edit-expires').value;
            box.close();
            if (Object.keys(body).length) patch(s, body);
          });
        }

        /** Send to vault: pick a vault of vault list, run send as a job, then show that the vault holds the snapshot. */
        async function openSend(s) {
          const vaults = await api('GET', '/vaults').catch((error) => { status('Cannot list vaults: ' + error.message, true); return null; });
          if (!vaults) return;
          const select = el('select', { id: 'send-vault', required: true }, vaults.map((v) => el('option', { value: v.name }, v.name + ' — ' + v.location)));
          const button = el('button', { type: 'submit', id: 'send-submit', className: 'primary', disabled: !vaults.length }, 'Send');
          const result = el('p', { id: 'send-result', role: 'status' });
          const form = el('form', {},
            vaults.length ? [el('label', { for: 'send-vault' }, 'Vault'), select]
              : el('p', {}, 'No vault yet: add one with kvmsnap vault add NAME PATH.'),
            el('p', { className: 'muted' }, 'Copies memory, every disk, config and NVRAM; incremental to the newest earlier send when it can be.'),
            el('div', { className: 'buttons' }, el('button', { type: 'button', id: 'send-cancel', onclick: () => box.close() }, 'Close'), button), result);
          const box = dialog('send-dialog', 'Send "' + s.name + '" to a vault', form);
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            button.disabled = true; select.disabled = true;
            const vault = select.value;
            try {
              const started = await api('POST', '/vms/' + enc(vmName) + '/send', { snapshot: s.name, vault });
              followJob(started.job, result, async (j) => {
                const held = await api('GET', '/vaults/' + enc(vault) + '/snapshots?vm=' + enc(vmName));
                const copy = held.find((h) => h.snapshot === s.name);
                return copy ? 'Sent: ' + vault + ' holds ' + s.name + ' (' + bytes(copy.logicalBytes) + ', ' + bytes(copy.storedBytes) + ' stored new; '
                  + (j.note || '') + ').' : 'The job ended, but ' + vault + ' does not list ' + s.name + '.';
              });
            } catch (error) { result.textContent = 'Refused: ' + error.message; result.className = 'error'; button.disabled = false; select.disabled = false; }
          });
        }

        /** Drill: a throwaway clone with the default check (it runs), as a job; then its report. */
        function openDrill(s) {
          const button = el('button', { type: 'submit', id: 'drill-submit', className: 'primary' }, 'Start drill');
          const result = el('p', { id: 'drill-result', role: 'status' });
          const report = el('div', { id: 'drill-report' });
          const form = el('form', {},
            el('p', {}, 'Boots a throwaway clone of "' + s.name + '" on an isolated network, checks that it runs, then removes it. '
              + vmName + ' itself is not touched.'),
            el('div', { className: 'buttons' }, el('button', { type: 'button', id: 'drill-cancel', onclick: () => box.close() }, 'Close'), button),
            result, report);
          const box = dialog('drill-dialog', 'Drill "' + s.name + '"', form);
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            button.disabled = true;
            try {
              const started = await api('POST', '/vms/' + enc(vmName) + '/drill', { snapshot: s.name });
              followJob(started.job, result, async () => {
                const reports = await api('GET', '/drills?vm=' + enc(vmName) + '&limit=20');
                const d = reports.find((r) => r.job === started.job);
                if (!d) throw new Error('no report for drill job ' + started.job);
                report.replaceChildren(table(['Check', 'Result', 'Seconds', 'Detail'], d.checks.map((c) => el('tr', {},
                  el('th', { scope: 'row' }, c.name), el('td', { className: c.passed ? 'ok' : 'error' }, c.passed ? 'ok' : 'FAILED'),
                  el('td', {}, c.seconds.toFixed(1)), el('td', {}, c.detail))), 'Drill report ' + d.id + ' (clone ' + d.clone + ')'));
                return (d.passed ? 'Passed' : 'FAILED') + (d.recoverySeconds !== null ? ': recovery time ' + d.recoverySeconds.toFixed(1) + ' s' : '')
                  + (d.error ? ' — ' + d.error : '') + '.';
              });
            } catch (error) { result.textContent = 'Refused: ' + error.message; result.className = 'error'; button.disabled = false; }
          });
        }

        const stageNames = [['validate', 'Validate'], ['safety-snapshot', 'Safety snapshot'], ['stop', 'Stop'], ['revert', 'Revert'], ['start', 'Start'],
          ['verify', 'Verify']];

        function openRestore(s, snaps) {
          let newest = null;
          for (const x of snaps) if (x.state === 'ready' && (!newest || x.createdAt > newest.createdAt)) newest = x;
          const lost = newest ? 'Changes since ' + when(newest.createdAt) + ' (the newest snapshot, "' + newest.name + '")' : 'All current state';
          const input = el('input', { id: 'restore-confirm', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' });
          const button = el('button', { type: 'submit', id: 'restore-submit', className: 'danger', disabled: true }, 'Restore ' + vmName);
          const safety = el('input', { type: 'checkbox', id: 'restore-safety', checked: true });
          const stages = el('ol', { id: 'restore-stages', className: 'stages', 'aria-live': 'polite' },
            stageNames.map(([key, label]) => el('li', { 'data-stage': key }, label)));
          const result = el('p', { id: 'restore-result', role: 'status' });
          const form = el('form', {},
            el('dl', {}, el('dt', {}, 'Snapshot'), el('dd', {}, s.name + ' — created ' + when(s.createdAt)),
              el('dt', {}, 'What will be lost'), el('dd', { id: 'restore-lost' }, lost),
              el('dt', {}, 'Memory restored'),
              el('dd', { id: 'restore-memory' }, s.hasMemory ? 'yes: the guest resumes where it was' : 'no: the guest boots from disk')),
            el('label', { className: 'check' }, safety, ' Take a safety snapshot of the current state first (kept 7 days)'),
            el('label', { for: 'restore-confirm' }, 'Type the VM name ', el('strong', {}, vmName), ' to confirm'), input,
            el('div', { className: 'buttons' }, el('button', { type: 'button', id: 'restore-cancel', onclick: () => box.close() }, 'Close'), button),
            stages, result);
          input.addEventListener('input', () => { button.disabled = input.value !== vmName; });
          const box = dialog('restore-dialog', 'Restore ' + vmName + ' to "' + s.name + '"', form);
          form.addEventListener('submit', async (event) => {
            event.preventDefault();
            if (input.value !== vmName) return;
            button.disabled = true; input.disabled = true;
            result.textContent = 'Starting…';
            try {
              const body = { snapshot: s.name, confirm: input.value, safetySnapshot: safety.checked };
              const started = await api('POST', '/vms/' + enc(vmName) + '/restore', body);
              followRestore(started.job, stages, result);
            } catch (error) { result.textContent = 'Refused: ' + error.message; result.className = 'error'; input.disabled = false; }
          });
        }

        function followRestore(job, stages, result) {
          result.textContent = 'Restore job ' + job + ' running…';
          const source = new EventSource('/api/v1/jobs/' + job + '/events');
          source.addEventListener('job', (event) => {
            const j = JSON.parse(event.data);
            const index = stageNames.findIndex(([key]) => key === j.stage);
            stages.querySelectorAll('li').forEach((li, i) => {
              const done = j.state === 'succeeded' || i < index || j.stage === 'finishing';
              li.className = done ? 'done' : i === index ? (j.state === 'failed' ? 'failed' : 'active') : '';
            });
            if (j.state === 'succeeded') {
              result.textContent = 'Restored. Job ' + job + ' finished in ' + (j.durationSeconds || 0).toFixed(1) + ' s.';
              result.className = 'ok';
            }
            if (j.state === 'failed') { result.textContent = 'Failed at stage ' + (j.stage || '?') + ': ' + (j.error || '') ; result.className = 'error'; }
            if (j.state !== 'running') { source.close(); if (page === 'vm') vmPage().catch(fail); }
          });
          source.onerror = () => { if (source.readyState === EventSource.CLOSED) result.textContent += ' (stream closed)'; };
        }
        """#
}
