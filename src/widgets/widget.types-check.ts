/**
 * Keeps widget.schema.ts in step with the widget types @openai/chatkit publishes (the components
 * the browser renders). Nothing runs here: `npm run typecheck` fails when
 * - a tree our schema accepts is not a widget ChatKit.js accepts (a prop we allow that it does not
 *   know, a wrong value type, a component it does not have);
 * - a widget ChatKit.js accepts is refused by our schema (a value it allows that we do not);
 * - ChatKit.js has a component, or a prop on one, that our schema does not list.
 * The import is type-only and erased: @openai/chatkit is a development dependency.
 */
import type { Widgets } from '@openai/chatkit';
import type { WidgetComponent, WidgetListViewItem, WidgetTreeRoot } from 'src/widgets/widget.schema';

type Assert<T extends true> = T;
type Extends<A, B> = [A] extends [B] ? true : false;

/** The prop names of `Theirs` missing from `Ours`, per component type; never when none are. */
type MissingProps<Theirs extends { type: string }, Ours extends { type: string }> = Theirs extends {
  type: infer T;
}
  ? Exclude<keyof Theirs, keyof Extract<Ours, { type: T }>> extends never
    ? never
    : { type: T; missing: Exclude<keyof Theirs, keyof Extract<Ours, { type: T }>> }
  : never;

type Ours = WidgetComponent | WidgetTreeRoot | WidgetListViewItem;
type Theirs = Widgets.WidgetComponent | Widgets.WidgetRoot | Widgets.ListViewItem;

export type WidgetTypesInStep = [
  Assert<Extends<WidgetTreeRoot, Widgets.WidgetRoot>>,
  Assert<Extends<Widgets.WidgetRoot, WidgetTreeRoot>>,
  Assert<Extends<WidgetComponent, Widgets.WidgetComponent>>,
  Assert<Extends<Widgets.WidgetComponent, WidgetComponent>>,
  Assert<Extends<WidgetListViewItem, Widgets.ListViewItem>>,
  Assert<Extends<Widgets.ListViewItem, WidgetListViewItem>>,
  Assert<Extends<MissingProps<Theirs, Ours>, never>>,
];
