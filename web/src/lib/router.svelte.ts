// The pages, plain paths (the server answers each with the app).
export const ROUTES = ['/', '/generate', '/history', '/data'] as const;
export type Route = (typeof ROUTES)[number];

function current(): Route | null {
  const path = window.location.pathname.replace(/\/+$/, '') || '/';
  return (ROUTES as readonly string[]).includes(path) ? (path as Route) : null;
}

class Router {
  route = $state<Route | null>(current());

  constructor() {
    window.addEventListener('popstate', () => (this.route = current()));
  }

  go(route: Route): void {
    if (route !== this.route) window.history.pushState(null, '', route);
    this.route = route;
  }
}

export const router = new Router();
