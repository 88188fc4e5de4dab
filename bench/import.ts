export async function main(): Promise<void> {
  process.stdout.write('import: not implemented yet\n');
}
