// The ops dashboard: feedback and online metrics, datasets, training runs, reports with the gate's
// decision, and queue health (one tab each, routes in router.tsx). Every action asks for confirmation.
import { Link, Outlet } from '@tanstack/react-router';

export function DashboardLayout() {
  return (
    <main className="page" id="main">
      <h1>Ops dashboard</h1>
      <nav className="tabs" aria-label="Dashboard sections">
        <Link to="/dashboard" activeOptions={{ exact: true }}>
          Feedback and metrics
        </Link>
        <Link to="/dashboard/datasets">Datasets</Link>
        <Link to="/dashboard/training">Training</Link>
        <Link to="/dashboard/reports/{-$reportId}" params={{}}>
          Reports and versions
        </Link>
        <Link to="/dashboard/queues">Queues</Link>
        <Link to="/dashboard/serving">Split and arena</Link>
      </nav>
      <Outlet />
    </main>
  );
}
