#!/usr/bin/env node
import '../dist/src/sender/main.js';
