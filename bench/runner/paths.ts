// Where the benchmark finds the repository, the pinned Python venv and its results folder.
// Paths only; nothing here starts or reads anything.

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VENV_PYTHON = join(REPO_ROOT, '.venv/bin/python');
export const RESULTS_DIR = join(REPO_ROOT, 'bench/results');
