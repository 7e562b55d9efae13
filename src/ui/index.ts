// Entry point of the web UI: the server calls registerUi() to mount the French pages at `/`.
import type { FastifyInstance } from 'fastify';
import type { Repository } from '../storage/types.js';
import type { TdduiValidator } from '../tddui/validator.js';

export interface UiDeps {
  repo: Repository;
  validator: TdduiValidator;
}

/** Mounts the UI routes (everything outside `/fhir` and `/healthz`). */
export async function registerUi(app: FastifyInstance, deps: UiDeps): Promise<void> {
  void deps;
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send('<!doctype html><html lang="fr"><title>TDDUI</title><h1>TDDUI</h1></html>'));
}
