#!/usr/bin/env node
import '../dist/src/supervise/main.js';
