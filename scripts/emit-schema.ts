// Writes schema.graphql from the resolvers (npm run schema).
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { printSchema } from 'graphql';
import { gatewaySchema } from '../src/resolvers/schema';

fs.writeFileSync(path.resolve(__dirname, '../../schema.graphql'), printSchema(gatewaySchema()) + '\n');
