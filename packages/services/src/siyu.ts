import type { ServiceDeps } from './deps.ts';
import { IngestService } from './ingest.service.ts';
import { ProcessorService } from './processor.service.ts';
import { ProfileService } from './profiles.service.ts';
import { WorkspaceService } from './workspaces.service.ts';

export interface Services {
  deps: ServiceDeps;
  workspaces: WorkspaceService;
  ingest: IngestService;
  processor: ProcessorService;
  profiles: ProfileService;
}

/** The composition root of the use-cases: one instance per process. */
export function createServices(deps: ServiceDeps, opts: { defaultTimeZone?: string } = {}): Services {
  const workspaces = new WorkspaceService(deps, opts.defaultTimeZone);
  const ingest = new IngestService(deps, workspaces);
  const processor = new ProcessorService(deps, workspaces);
  const profiles = new ProfileService(deps, workspaces);
  return { deps, workspaces, ingest, processor, profiles };
}
