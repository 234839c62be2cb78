import { defineMigration, renameColumn } from 'pgshift';

// The same kind of plan written in TypeScript: the helpers are typed, the loader validates it
// exactly as it validates JSON.
export default defineMigration({
  id: '20261122_rename_users_name',
  description: 'Rename users.name to users.full_name',
  operations: [renameColumn({ table: 'users', from: 'name', to: 'full_name' })],
});
