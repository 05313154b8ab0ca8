import Foundation

extension PanelAssets {
    /// The stylesheet of every page (served at /assets/panel.css; also used by the login page).
    static let css = #"""
        :root {
          --fg: #1d2330; --muted: #5b6475; --bg: #f6f7f9; --card: #fff; --line: #d8dce3;
          --accent: #1f5fbf; --danger: #b3261e; --ok: #1b7a3a;
        }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
        header { background: #18243a; color: #fff; padding: .5rem 1rem; }
        header nav { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; }
        header .brand { font-weight: 700; margin-right: 1rem; }
        header a, header button.link {
          color: #fff; text-decoration: none; padding: .35rem .5rem; border-radius: 4px; background: none; border: 0; font: inherit; cursor: pointer;
        }
        header a:hover, header a:focus, header button.link:focus { background: #2d3f5f; outline: 2px solid #9cc1ff; }
        main { padding: 1rem; max-width: 1400px; margin: 0 auto; }
        tbody th[scope=row] { min-width: 11rem; }
        h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.1rem; margin: .25rem 0 .75rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
        .scroll { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 1rem; }
        table { border-collapse: collapse; width: 100%; }
        caption { text-align: left; font-weight: 600; padding: .6rem .75rem; }
        th, td { text-align: left; padding: .45rem .75rem; border-top: 1px solid var(--line); vertical-align: top; }
        thead th { background: #eef1f5; font-size: .85rem; color: var(--muted); }
        label { display: block; margin: .5rem 0 .2rem; font-weight: 600; }
        label.check { font-weight: 400; }
        select { padding: .4rem .5rem; font: inherit; border: 1px solid #9aa3b2; border-radius: 4px; max-width: 28rem; width: 100%; }
        input:not([type=checkbox]) { width: 100%; max-width: 28rem; padding: .45rem .5rem; font: inherit; border: 1px solid #9aa3b2; border-radius: 4px; }
        button {
          font: inherit; padding: .4rem .8rem; margin: .15rem; border-radius: 4px; border: 1px solid #9aa3b2; background: #fff; cursor: pointer;
          min-height: 2.2rem;
        }
        button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
        button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
        button:disabled { opacity: .45; cursor: not-allowed; }
        button:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #9cc1ff; outline-offset: 1px; }
        .badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; }
        .badge.full { background: #dbe8ff; color: #173f80; }
        .badge.incremental { background: #e7f4ea; color: #1b5e30; }
        .muted { color: var(--muted); font-size: .85rem; }
        .stale { color: var(--danger); font-weight: 700; }
        .fresh { color: var(--ok); }
        .error { color: var(--danger); font-weight: 600; }
        .ok { color: var(--ok); font-weight: 600; }
        #status { min-height: 1.5rem; }
        dialog { border: 1px solid var(--line); border-radius: 10px; max-width: 36rem; width: calc(100% - 1.5rem); padding: 1.25rem; }
        dialog::backdrop { background: rgba(10, 20, 40, .45); }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0 0 .75rem; }
        dt { font-weight: 600; }
        dd { margin: 0; }
        .buttons { display: flex; justify-content: flex-end; flex-wrap: wrap; margin-top: .75rem; }
        .stages { display: flex; flex-wrap: wrap; gap: .35rem; list-style: none; padding: 0; margin: 1rem 0 .5rem; }
        .stages li { padding: .3rem .6rem; border-radius: 4px; background: #eceff3; color: var(--muted); }
        .stages li.active { background: #fff2c6; color: #6b4e00; font-weight: 700; }
        .stages li.done { background: #d9f2df; color: #1b5e30; }
        .stages li.done::before { content: "✓ "; }
        .stages li.failed { background: #fbd9d6; color: var(--danger); font-weight: 700; }
        .tiers { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: .25rem 1rem; }
        .plan-prune td, .plan-prune th { color: var(--danger); }
        .plan-keep td:nth-child(2) { color: var(--ok); font-weight: 600; }
        svg { width: 100%; max-width: 760px; height: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
        svg .label, svg .value { font-size: 13px; fill: var(--fg); }
        .bar-memory { fill: #7a5cc7; background: #7a5cc7; }
        .bar-shared { fill: #5d9be0; background: #5d9be0; }
        .bar-exclusive { fill: #1f5fbf; background: #1f5fbf; }
        .legend .key { display: inline-block; width: .9rem; height: .9rem; border-radius: 2px; vertical-align: middle; }
        .job-failed td { color: var(--danger); }
        .login { max-width: 26rem; margin: 10vh auto; }
        td.actions { white-space: nowrap; }
        @media (max-width: 700px) {
          main { padding: .5rem; }
          th, td { padding: .35rem .45rem; }
          td.actions { white-space: normal; }
          td.actions button { width: 100%; }
        }
        """#
}
