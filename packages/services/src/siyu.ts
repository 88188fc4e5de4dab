import { AudienceEngine, AudienceService, SegmentService, TagService, type AudienceEngineOptions } from './audiences/index.ts';
import type { ServiceDeps } from './deps.ts';
import { IngestService } from './ingest.service.ts';
import { PipelineService } from './pipeline.service.ts';
import { LayerService, type LayerServiceOptions } from './layers.service.ts';
import { ProcessorService } from './processor.service.ts';
import { ProfileService } from './profiles.service.ts';
import { WorkspaceService } from './workspaces.service.ts';

export interface Services {
  deps: ServiceDeps;
  workspaces: WorkspaceService;
  ingest: IngestService;
  pipeline: PipelineService;
  processor: ProcessorService;
  profiles: ProfileService;
  layers: LayerService;
  tags: TagService;
  segments: SegmentService;
  audiences: AudienceService;
  audienceEngine: AudienceEngine;
}

/** The composition root of the use-cases: one instance per process. */
export function createServices(deps: ServiceDeps, opts: { defaultTimeZone?: string; layers?: LayerServiceOptions; audiences?: AudienceEngineOptions } = {}): Services {
  const workspaces = new WorkspaceService(deps, opts.defaultTimeZone);
  const ingest = new IngestService(deps, workspaces);
  const pipeline = new PipelineService(deps, ingest);
  const processor = new ProcessorService(deps, workspaces);
  const profiles = new ProfileService(deps, workspaces);
  const layers = new LayerService(deps, processor, opts.layers);
  const audienceEngine = new AudienceEngine(deps, processor, layers, opts.audiences);
  const audiences = new AudienceService(deps, audienceEngine, profiles);
  const tags = new TagService(deps, workspaces, audienceEngine, audiences, profiles);
  const segments = new SegmentService(deps, audienceEngine, audiences);
  // Unmerge and erasure change profiles outside processor batches: layers and audiences follow them
  // the same way; erased profiles also leave the bitmaps (their numbers are gone with their rows).
  profiles.onChanged((ws, touched, removed, log) => {
    if (removed.size) audienceEngine.index.invalidate(ws);
    processor.announce(ws, touched, removed, log);
  });
  return { deps, workspaces, ingest, pipeline, processor, profiles, layers, tags, segments, audiences, audienceEngine };
}
