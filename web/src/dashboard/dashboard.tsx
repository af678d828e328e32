// The ops dashboard: feedback and online metrics, datasets, training runs, reports with the gate's
// decision, and queue health. Every action asks for confirmation.
import { Link } from '../router.tsx';
import { OverviewPanel } from './overview.tsx';
import { DatasetsPanel } from './datasets.tsx';
import { TrainingPanel } from './training.tsx';
import { ReportsPanel } from './reports.tsx';
import { QueuesPanel } from './queues.tsx';

const TABS = [
  { href: '/dashboard', label: 'Feedback and metrics' },
  { href: '/dashboard/datasets', label: 'Datasets' },
  { href: '/dashboard/training', label: 'Training' },
  { href: '/dashboard/reports', label: 'Reports and versions' },
  { href: '/dashboard/queues', label: 'Queues' },
];

export function DashboardPage({ path }: { path: string }) {
  // /dashboard/reports/<id> opens one report.
  const tab =
    [...TABS].reverse().find((t) => path === t.href || path.startsWith(`${t.href}/`))?.href ?? '/dashboard';
  const reportId = path.startsWith('/dashboard/reports/') ? path.slice('/dashboard/reports/'.length) : null;
  return (
    <main className="page" id="main">
      <h1>Ops dashboard</h1>
      <nav className="tabs" aria-label="Dashboard sections">
        {TABS.map((t) => (
          <Link key={t.href} href={t.href} aria-current={tab === t.href ? 'page' : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === '/dashboard' && <OverviewPanel />}
      {tab === '/dashboard/datasets' && <DatasetsPanel />}
      {tab === '/dashboard/training' && <TrainingPanel />}
      {tab === '/dashboard/reports' && <ReportsPanel reportId={reportId} />}
      {tab === '/dashboard/queues' && <QueuesPanel />}
    </main>
  );
}
