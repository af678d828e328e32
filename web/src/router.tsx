// Every URL of the browser UI and the page it shows (TanStack Router, routes declared in code and
// typed: a link to a path that does not exist, or without its params, does not compile). Signed
// out, every URL shows the sign-in form; moderation is for moderators and admins, the dashboard for
// ops and admins (the shell in app.tsx).
import {
  createRootRoute,
  createRoute,
  createRouter,
  lazyRouteComponent,
  Navigate,
} from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { canModerate, canOperate } from './session.tsx';
import { ForRole, NotFound, Shell } from './app.tsx';
import { ChatPage } from './pages/chat.tsx';
import { SettingsPage } from './pages/settings.tsx';
import { ModerationLayout, ReviewQueue } from './pages/moderation.tsx';
import { RatersPage } from './pages/raters.tsx';
import { AnnotationQueuePage, AnnotationQueuesPage } from './pages/annotation-queues.tsx';
import { ReviewListPage, ReviewPage } from './pages/review.tsx';
import { DashboardLayout } from './dashboard/dashboard.tsx';

const rootRoute = createRootRoute({ component: Shell, notFoundComponent: NotFound });

/** Signed in, the start page and the sign-in URL lead to the chat. */
const toChat = (): ReactNode => <Navigate to="/chat/{-$conversationId}" params={{}} replace />;
const indexRoute = createRoute({ getParentRoute: () => rootRoute, path: '/', component: toChat });
const signInRoute = createRoute({ getParentRoute: () => rootRoute, path: '/signin', component: toChat });

// One route for /chat and /chat/<id>: the page stays mounted (and keeps streaming) when a new
// conversation gets its URL.
const chatRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/chat/{-$conversationId}',
  component: function ChatRoute(): ReactNode {
    const { conversationId } = chatRoute.useParams();
    return <ChatPage conversationId={conversationId ?? null} />;
  },
});

const settingsRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/settings',
  component: SettingsPage,
});

const moderationRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/moderation',
  component: (): ReactNode => (
    <ForRole allowed={canModerate} who="moderators">
      <ModerationLayout />
    </ForRole>
  ),
});
const correctionsRoute = createRoute({
  getParentRoute: () => moderationRoute,
  path: '/',
  component: (): ReactNode => <ReviewQueue kind="corrections" />,
});
const flagsRoute = createRoute({
  getParentRoute: () => moderationRoute,
  path: '/flags',
  component: (): ReactNode => <ReviewQueue kind="flags" />,
});
const ratersRoute = createRoute({
  getParentRoute: () => moderationRoute,
  path: '/raters',
  component: RatersPage,
});
const annotationQueuesRoute = createRoute({
  getParentRoute: () => moderationRoute,
  path: '/queues',
  component: AnnotationQueuesPage,
});
const annotationQueueRoute = createRoute({
  getParentRoute: () => moderationRoute,
  path: '/queues/$queueId',
  component: function AnnotationQueueRoute(): ReactNode {
    const { queueId } = annotationQueueRoute.useParams();
    return <AnnotationQueuePage queueId={queueId} />;
  },
});

// Review: the annotation queues a rater works on (anyone signed in; the API says which queues).
const reviewListRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/review',
  component: ReviewListPage,
});
const reviewRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/review/$queueId',
  component: function ReviewRoute(): ReactNode {
    const { queueId } = reviewRoute.useParams();
    return <ReviewPage queueId={queueId} />;
  },
});

const dashboardRoute = createRoute({
  getParentRoute: () => rootRoute,
  path: '/dashboard',
  component: (): ReactNode => (
    <ForRole allowed={canOperate} who="ops">
      <DashboardLayout />
    </ForRole>
  ),
});
// The panels load when first opened: the charts (uPlot) and the ops views stay out of the chat's bundle.
const overviewRoute = createRoute({
  getParentRoute: () => dashboardRoute,
  path: '/',
  component: lazyRouteComponent(() => import('./dashboard/overview.tsx'), 'OverviewPanel'),
});
const datasetsRoute = createRoute({
  getParentRoute: () => dashboardRoute,
  path: '/datasets',
  component: lazyRouteComponent(() => import('./dashboard/datasets.tsx'), 'DatasetsPanel'),
});
const trainingRoute = createRoute({
  getParentRoute: () => dashboardRoute,
  path: '/training',
  component: lazyRouteComponent(() => import('./dashboard/training.tsx'), 'TrainingPanel'),
});
/** /dashboard/reports/<id> opens one report. */
const reportsRoute = createRoute({
  getParentRoute: () => dashboardRoute,
  path: '/reports/{-$reportId}',
  component: lazyRouteComponent(() => import('./dashboard/reports.tsx'), 'ReportsRoute'),
});
const queuesRoute = createRoute({
  getParentRoute: () => dashboardRoute,
  path: '/queues',
  component: lazyRouteComponent(() => import('./dashboard/queues.tsx'), 'QueuesPanel'),
});

const servingRoute = createRoute({
  getParentRoute: () => dashboardRoute,
  path: '/serving',
  component: lazyRouteComponent(() => import('./dashboard/serving.tsx'), 'ServingPanel'),
});

const routeTree = rootRoute.addChildren([
  indexRoute,
  signInRoute,
  chatRoute,
  settingsRoute,
  reviewListRoute,
  reviewRoute,
  moderationRoute.addChildren([
    correctionsRoute,
    flagsRoute,
    ratersRoute,
    annotationQueuesRoute,
    annotationQueueRoute,
  ]),
  dashboardRoute.addChildren([
    overviewRoute,
    datasetsRoute,
    trainingRoute,
    reportsRoute,
    queuesRoute,
    servingRoute,
  ]),
]);

export const router = createRouter({ routeTree });

declare module '@tanstack/react-router' {
  interface Register {
    router: typeof router;
  }
}
