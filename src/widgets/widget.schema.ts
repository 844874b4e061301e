/**
 * The widget trees this server builds itself (templates, the knowledge-base sources card, a
 * webhook's replacement widget): every component ChatKit.js renders, with its props, described
 * once in zod. Unknown component types and unknown props are refused, so a typo in a template
 * fails at boot instead of rendering as nothing in the browser.
 *
 * The protocol layer still treats widgets on the wire as opaque (WidgetRootSchema): this schema
 * is for what we author, not for what clients send. widget.types-check.ts keeps it in step with
 * the `Widgets` types @openai/chatkit publishes; `npm run typecheck` fails when they drift.
 */
import { z } from 'zod';

const size = z.union([z.number(), z.string()]);
const ThemeColorSchema = z.strictObject({ dark: z.string(), light: z.string() });
const color = z.union([z.string(), ThemeColorSchema]);

const SpacingSchema = z.strictObject({
  top: size.optional(),
  right: size.optional(),
  bottom: size.optional(),
  left: size.optional(),
  x: size.optional(),
  y: size.optional(),
});

const BorderSchema = z.strictObject({
  size: z.number(),
  color: color.optional(),
  style: z.enum(['solid', 'dashed', 'dotted', 'double', 'groove', 'ridge', 'inset', 'outset']).optional(),
});
const borderSide = z.union([z.number(), BorderSchema]);
const BordersSchema = z.strictObject({
  top: borderSide.optional(),
  right: borderSide.optional(),
  bottom: borderSide.optional(),
  left: borderSide.optional(),
  x: borderSide.optional(),
  y: borderSide.optional(),
});
const border = z.union([z.number(), BorderSchema, BordersSchema]);

const alignment = z.enum(['start', 'center', 'end', 'baseline', 'stretch']);
const justification = z.enum(['start', 'center', 'end', 'between', 'around', 'evenly', 'stretch']);
const controlVariant = z.enum(['solid', 'soft', 'outline', 'ghost']);
const controlSize = z.enum(['3xs', '2xs', 'xs', 'sm', 'md', 'lg', 'xl', '2xl', '3xl']);
const textAlign = z.enum(['start', 'center', 'end']);
const textSize = z.enum(['xs', 'sm', 'md', 'lg', 'xl']);
const weight = z.enum(['normal', 'medium', 'semibold', 'bold']);
const theme = z.enum(['light', 'dark']);
const direction = z.enum(['row', 'col']);
const radius = z.enum(['2xs', 'xs', 'sm', 'md', 'lg', 'xl', '2xl', '3xl', '4xl', 'full', '100%', 'none']);
const gutterSize = z.enum(['2xs', 'xs', 'sm', 'md', 'lg', 'xl']);

export const WIDGET_ICONS = [
  'agent', 'analytics', 'atom', 'batch', 'bolt', 'book-open', 'book-closed', 'book-clock', 'bug',
  'calendar', 'chart', 'check', 'check-circle', 'check-circle-filled', 'chevron-left',
  'chevron-right', 'circle-question', 'compass', 'confetti', 'cube', 'desktop', 'document', 'dot',
  'dots-horizontal', 'dots-vertical', 'empty-circle', 'external-link', 'globe', 'keys', 'lab',
  'images', 'info', 'lifesaver', 'lightbulb', 'mail', 'map-pin', 'maps', 'mobile', 'name',
  'notebook', 'notebook-pencil', 'page-blank', 'phone', 'play', 'plus', 'profile', 'profile-card',
  'reload', 'star', 'star-filled', 'search', 'sparkle', 'sparkle-double', 'square-code',
  'square-image', 'square-text', 'suitcase', 'settings-slider', 'user', 'wreath', 'write',
  'write-alt', 'write-alt2',
] as const; // prettier-ignore
const icon = z.enum(WIDGET_ICONS);

/**
 * What a control sends when used. `handler`, `loadingBehavior` and `streaming` are read by
 * ChatKit.js at run time (streaming: false sends `threads.sync_custom_action`) though its types
 * only name `type` and `payload`.
 */
export const ActionConfigSchema = z.strictObject({
  type: z.string().min(1),
  payload: z.record(z.string(), z.unknown()).optional(),
  handler: z.enum(['client', 'server']).optional(),
  loadingBehavior: z.enum(['auto', 'none', 'self', 'container']).optional(),
  streaming: z.boolean().optional(),
});

const WidgetStatusSchema = z.union([
  z.strictObject({ text: z.string(), favicon: z.string().optional(), frame: z.boolean().optional() }),
  z.strictObject({ text: z.string(), icon: icon.optional() }),
]);

/** Props every component has. */
const base = { key: z.string().optional(), id: z.string().optional() };

const block = {
  height: size.optional(),
  width: size.optional(),
  size: size.optional(),
  minHeight: size.optional(),
  minWidth: size.optional(),
  minSize: size.optional(),
  maxHeight: size.optional(),
  maxWidth: size.optional(),
  maxSize: size.optional(),
  aspectRatio: size.optional(),
  radius: radius.optional(),
  margin: z.union([size, SpacingSchema]).optional(),
};

const boxLayout = {
  align: alignment.optional(),
  justify: justification.optional(),
  wrap: z.enum(['nowrap', 'wrap', 'wrap-reverse']).optional(),
  flex: size.optional(),
  gap: size.optional(),
  padding: z.union([size, SpacingSchema]).optional(),
  border: border.optional(),
  background: color.optional(),
  ...block,
};

const baseText = {
  value: z.string(),
  color: color.optional(),
  weight: weight.optional(),
  textAlign: textAlign.optional(),
  truncate: z.boolean().optional(),
  maxLines: z.number().int().optional(),
};

// ---------------------------------------------------------------------------- leaf components

const TextSchema = z.strictObject({
  type: z.literal('Text'),
  ...base,
  ...baseText,
  streaming: z.boolean().optional(),
  italic: z.boolean().optional(),
  lineThrough: z.boolean().optional(),
  width: size.optional(),
  size: textSize.optional(),
  minLines: z.number().int().optional(),
  editable: z
    .union([
      z.literal(false),
      z.strictObject({
        name: z.string(),
        autoFocus: z.boolean().optional(),
        autoSelect: z.boolean().optional(),
        autoComplete: z.string().optional(),
        allowAutofillExtensions: z.boolean().optional(),
        pattern: z.string().optional(),
        placeholder: z.string().optional(),
        required: z.boolean().optional(),
      }),
    ])
    .optional(),
});

const TitleSchema = z.strictObject({
  type: z.literal('Title'),
  ...base,
  ...baseText,
  size: z.enum(['sm', 'md', 'lg', 'xl', '2xl', '3xl', '4xl', '5xl']).optional(),
});

const CaptionSchema = z.strictObject({
  type: z.literal('Caption'),
  ...base,
  ...baseText,
  size: z.enum(['sm', 'md', 'lg']).optional(),
});

const MarkdownSchema = z.strictObject({
  type: z.literal('Markdown'),
  ...base,
  value: z.string(),
  streaming: z.boolean().optional(),
});

const BadgeSchema = z.strictObject({
  type: z.literal('Badge'),
  ...base,
  label: z.string(),
  color: z.enum(['secondary', 'success', 'danger', 'warning', 'info', 'discovery']).optional(),
  variant: z.enum(['solid', 'soft', 'outline']).optional(),
  size: z.enum(['sm', 'md', 'lg']).optional(),
  pill: z.boolean().optional(),
});

const IconSchema = z.strictObject({
  type: z.literal('Icon'),
  ...base,
  name: icon,
  color: color.optional(),
  size: z.enum(['xs', 'sm', 'md', 'lg', 'xl', '2xl', '3xl']).optional(),
});

const ImageSchema = z.strictObject({
  type: z.literal('Image'),
  ...base,
  src: z.string(),
  alt: z.string().optional(),
  frame: z.boolean().optional(),
  fit: z.enum(['cover', 'contain', 'fill', 'scale-down', 'none']).optional(),
  position: z
    .enum([
      'top left',
      'top',
      'top right',
      'left',
      'center',
      'right',
      'bottom left',
      'bottom',
      'bottom right',
    ])
    .optional(),
  flush: z.boolean().optional(),
  ...block,
});

const ButtonSchema = z.strictObject({
  type: z.literal('Button'),
  ...base,
  submit: z.boolean().optional(),
  label: z.string().optional(),
  onClickAction: ActionConfigSchema.optional(),
  iconStart: icon.optional(),
  iconEnd: icon.optional(),
  style: z.enum(['primary', 'secondary']).optional(),
  iconSize: z.enum(['sm', 'md', 'lg', 'xl', '2xl']).optional(),
  color: z
    .enum(['primary', 'secondary', 'info', 'discovery', 'success', 'caution', 'warning', 'danger'])
    .optional(),
  variant: controlVariant.optional(),
  size: controlSize.optional(),
  pill: z.boolean().optional(),
  uniform: z.boolean().optional(),
  block: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

const DividerSchema = z.strictObject({
  type: z.literal('Divider'),
  ...base,
  color: color.optional(),
  size: size.optional(),
  spacing: size.optional(),
  flush: z.boolean().optional(),
});

const SpacerSchema = z.strictObject({ type: z.literal('Spacer'), ...base, minSize: size.optional() });

const InputSchema = z.strictObject({
  type: z.literal('Input'),
  ...base,
  name: z.string(),
  inputType: z.enum(['number', 'email', 'text', 'password', 'tel', 'url']).optional(),
  defaultValue: z.string().optional(),
  required: z.boolean().optional(),
  pattern: z.string().optional(),
  placeholder: z.string().optional(),
  allowAutofillExtensions: z.boolean().optional(),
  autoSelect: z.boolean().optional(),
  autoFocus: z.boolean().optional(),
  disabled: z.boolean().optional(),
  variant: z.enum(['soft', 'outline']).optional(),
  size: controlSize.optional(),
  gutterSize: gutterSize.optional(),
  pill: z.boolean().optional(),
});

const TextareaSchema = z.strictObject({
  type: z.literal('Textarea'),
  ...base,
  name: z.string(),
  defaultValue: z.string().optional(),
  required: z.boolean().optional(),
  pattern: z.string().optional(),
  placeholder: z.string().optional(),
  autoSelect: z.boolean().optional(),
  autoFocus: z.boolean().optional(),
  disabled: z.boolean().optional(),
  variant: z.enum(['soft', 'outline']).optional(),
  size: controlSize.optional(),
  gutterSize: gutterSize.optional(),
  rows: z.number().int().optional(),
  autoResize: z.boolean().optional(),
  maxRows: z.number().int().optional(),
  allowAutofillExtensions: z.boolean().optional(),
});

const SelectSchema = z.strictObject({
  type: z.literal('Select'),
  ...base,
  name: z.string(),
  options: z.array(z.strictObject({ value: z.string(), label: z.string() })),
  onChangeAction: ActionConfigSchema.optional(),
  placeholder: z.string().optional(),
  defaultValue: z.string().optional(),
  variant: controlVariant.optional(),
  size: controlSize.optional(),
  pill: z.boolean().optional(),
  block: z.boolean().optional(),
  clearable: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

const DatePickerSchema = z.strictObject({
  type: z.literal('DatePicker'),
  ...base,
  name: z.string(),
  onChangeAction: ActionConfigSchema.optional(),
  placeholder: z.string().optional(),
  defaultValue: z.string().optional(),
  min: z.string().optional(),
  max: z.string().optional(),
  variant: controlVariant.optional(),
  size: controlSize.optional(),
  side: z.enum(['top', 'bottom', 'left', 'right']).optional(),
  align: z.enum(['start', 'center', 'end']).optional(),
  pill: z.boolean().optional(),
  block: z.boolean().optional(),
  clearable: z.boolean().optional(),
  disabled: z.boolean().optional(),
});

const CheckboxSchema = z.strictObject({
  type: z.literal('Checkbox'),
  ...base,
  name: z.string(),
  label: z.string().optional(),
  defaultChecked: z.boolean().optional(),
  onChangeAction: ActionConfigSchema.optional(),
  disabled: z.boolean().optional(),
  required: z.boolean().optional(),
});

const RadioGroupSchema = z.strictObject({
  type: z.literal('RadioGroup'),
  ...base,
  name: z.string(),
  options: z
    .array(z.strictObject({ label: z.string(), value: z.string(), disabled: z.boolean().optional() }))
    .optional(),
  ariaLabel: z.string().optional(),
  onChangeAction: ActionConfigSchema.optional(),
  defaultValue: z.string().optional(),
  direction: direction.optional(),
  disabled: z.boolean().optional(),
  required: z.boolean().optional(),
});

const LabelSchema = z.strictObject({
  type: z.literal('Label'),
  ...base,
  value: z.string(),
  fieldName: z.string(),
  size: textSize.optional(),
  weight: weight.optional(),
  textAlign: textAlign.optional(),
  color: color.optional(),
});

// ---------------------------------------------------------------------- containers (recursive)

/**
 * The recursive types are written out, because TypeScript cannot infer a type that refers to
 * itself through zod's getters across a union this large; each is checked against the schema
 * below (`satisfies`), so the two cannot disagree.
 */
type Leaf =
  | z.infer<typeof TextSchema>
  | z.infer<typeof TitleSchema>
  | z.infer<typeof CaptionSchema>
  | z.infer<typeof MarkdownSchema>
  | z.infer<typeof BadgeSchema>
  | z.infer<typeof IconSchema>
  | z.infer<typeof ImageSchema>
  | z.infer<typeof ButtonSchema>
  | z.infer<typeof DividerSchema>
  | z.infer<typeof SpacerSchema>
  | z.infer<typeof InputSchema>
  | z.infer<typeof TextareaSchema>
  | z.infer<typeof SelectSchema>
  | z.infer<typeof DatePickerSchema>
  | z.infer<typeof CheckboxSchema>
  | z.infer<typeof RadioGroupSchema>
  | z.infer<typeof LabelSchema>;

type Base = { key?: string; id?: string };
type BoxLayout = z.infer<z.ZodObject<typeof boxLayout>>;

export type WidgetBox = Base &
  BoxLayout & { type: 'Box'; direction?: 'row' | 'col'; children?: WidgetComponent[] };
export type WidgetRow = Base & BoxLayout & { type: 'Row'; children?: WidgetComponent[] };
export type WidgetCol = Base & BoxLayout & { type: 'Col'; children?: WidgetComponent[] };
export type WidgetForm = Base &
  BoxLayout & {
    type: 'Form';
    direction?: 'row' | 'col';
    onSubmitAction?: ActionConfig;
    children?: WidgetComponent[];
  };
export type WidgetTransition = Base & { type: 'Transition'; children: WidgetComponent };
export type WidgetTableCell = Base & {
  type: 'Table.Cell';
  children?: WidgetComponent[];
  width?: number | string;
  padding?: z.infer<typeof SpacingSchema>;
  colSpan?: number;
  rowSpan?: number;
  align?: 'start' | 'center' | 'end';
  vAlign?: 'start' | 'center' | 'end';
  colSize?: 'xs' | 'sm' | 'md' | 'lg' | 'xl';
};
export type WidgetTableRow = Base & { type: 'Table.Row'; header?: boolean; children?: WidgetTableCell[] };
export type WidgetTable = Base & { type: 'Table'; children?: WidgetTableRow[] };

export type WidgetComponent =
  | Leaf
  | WidgetBox
  | WidgetRow
  | WidgetCol
  | WidgetForm
  | WidgetTransition
  | WidgetTable
  | WidgetTableRow
  | WidgetTableCell;

export type ActionConfig = z.infer<typeof ActionConfigSchema>;

const children = (): z.ZodOptional<z.ZodArray<z.ZodType<WidgetComponent>>> =>
  z.array(WidgetComponentSchema).optional();

const BoxSchema = z.strictObject({
  type: z.literal('Box'),
  ...base,
  direction: direction.optional(),
  ...boxLayout,
  get children() {
    return children();
  },
});
const RowSchema = z.strictObject({
  type: z.literal('Row'),
  ...base,
  ...boxLayout,
  get children() {
    return children();
  },
});
const ColSchema = z.strictObject({
  type: z.literal('Col'),
  ...base,
  ...boxLayout,
  get children() {
    return children();
  },
});
const FormSchema = z.strictObject({
  type: z.literal('Form'),
  ...base,
  direction: direction.optional(),
  onSubmitAction: ActionConfigSchema.optional(),
  ...boxLayout,
  get children() {
    return children();
  },
});
const TransitionSchema = z.strictObject({
  type: z.literal('Transition'),
  ...base,
  get children(): z.ZodType<WidgetComponent> {
    return WidgetComponentSchema;
  },
});
const TableCellSchema = z.strictObject({
  type: z.literal('Table.Cell'),
  ...base,
  width: size.optional(),
  padding: SpacingSchema.optional(),
  colSpan: z.number().int().optional(),
  rowSpan: z.number().int().optional(),
  align: textAlign.optional(),
  vAlign: textAlign.optional(),
  colSize: z.enum(['xs', 'sm', 'md', 'lg', 'xl']).optional(),
  get children() {
    return children();
  },
});
const TableRowSchema = z.strictObject({
  type: z.literal('Table.Row'),
  ...base,
  header: z.boolean().optional(),
  children: z.array(TableCellSchema).optional(),
});
const TableSchema = z.strictObject({
  type: z.literal('Table'),
  ...base,
  children: z.array(TableRowSchema).optional(),
});

const COMPONENT_OPTIONS = () =>
  [
    TextSchema,
    TitleSchema,
    CaptionSchema,
    MarkdownSchema,
    BadgeSchema,
    IconSchema,
    ImageSchema,
    ButtonSchema,
    DividerSchema,
    SpacerSchema,
    InputSchema,
    TextareaSchema,
    SelectSchema,
    DatePickerSchema,
    CheckboxSchema,
    RadioGroupSchema,
    LabelSchema,
    BoxSchema,
    RowSchema,
    ColSchema,
    FormSchema,
    TransitionSchema,
    TableSchema,
    TableRowSchema,
    TableCellSchema,
  ] as const;

/** Any component a container may hold; an unknown `type` is refused naming the known ones. */
export const WidgetComponentSchema: z.ZodType<WidgetComponent> = z.lazy(() =>
  z.discriminatedUnion('type', COMPONENT_OPTIONS()),
);

// ----------------------------------------------------------------------------------- roots

export const CardSchema = z.strictObject({
  type: z.literal('Card'),
  ...base,
  asForm: z.boolean().optional(),
  children: z.array(WidgetComponentSchema),
  background: color.optional(),
  border: border.optional(),
  size: z.enum(['sm', 'md', 'lg', 'full']).optional(),
  padding: z.union([size, SpacingSchema]).optional(),
  status: WidgetStatusSchema.optional(),
  collapsed: z.boolean().optional(),
  confirm: z.strictObject({ label: z.string(), action: ActionConfigSchema }).optional(),
  cancel: z.strictObject({ label: z.string(), action: ActionConfigSchema }).optional(),
  theme: theme.optional(),
});
export type WidgetCard = z.infer<typeof CardSchema>;

export const ListViewItemSchema = z.strictObject({
  type: z.literal('ListViewItem'),
  ...base,
  children: z.array(WidgetComponentSchema),
  onClickAction: ActionConfigSchema.optional(),
  gap: size.optional(),
  align: alignment.optional(),
});
export type WidgetListViewItem = z.infer<typeof ListViewItemSchema>;

export const ListViewSchema = z.strictObject({
  type: z.literal('ListView'),
  ...base,
  children: z.array(ListViewItemSchema),
  limit: z.union([z.number().int().positive(), z.literal('auto')]).optional(),
  status: WidgetStatusSchema.optional(),
  theme: theme.optional(),
});
export type WidgetListView = z.infer<typeof ListViewSchema>;

export type WidgetBasicRoot = Base & {
  type: 'Basic';
  children: (WidgetComponent | WidgetTreeRoot)[];
  theme?: 'light' | 'dark';
  direction?: 'row' | 'col';
  gap?: number | string;
  padding?: number | string | z.infer<typeof SpacingSchema>;
  align?: z.infer<typeof alignment>;
  justify?: z.infer<typeof justification>;
};

/** A whole widget, as a widget item carries it. */
export type WidgetTreeRoot = WidgetCard | WidgetListView | WidgetBasicRoot;

export const BasicRootSchema = z.strictObject({
  type: z.literal('Basic'),
  ...base,
  get children(): z.ZodArray<z.ZodType<WidgetComponent | WidgetTreeRoot>> {
    // One discriminated union (not component | root), so a bad node is reported at its own path.
    return z.array(
      z.discriminatedUnion('type', [...COMPONENT_OPTIONS(), CardSchema, ListViewSchema, BasicRootSchema]),
    );
  },
  theme: theme.optional(),
  direction: direction.optional(),
  gap: size.optional(),
  padding: z.union([size, SpacingSchema]).optional(),
  align: alignment.optional(),
  justify: justification.optional(),
});

export const WidgetTreeRootSchema: z.ZodType<WidgetTreeRoot> = z.lazy(() =>
  z.discriminatedUnion('type', [CardSchema, ListViewSchema, BasicRootSchema]),
);

// Compile-time proof that the written-out recursive types are what the schemas accept.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const proofs: [
  Same<z.infer<typeof BoxSchema>, WidgetBox>,
  Same<z.infer<typeof RowSchema>, WidgetRow>,
  Same<z.infer<typeof ColSchema>, WidgetCol>,
  Same<z.infer<typeof FormSchema>, WidgetForm>,
  Same<z.infer<typeof TransitionSchema>, WidgetTransition>,
  Same<z.infer<typeof TableSchema>, WidgetTable>,
  Same<z.infer<typeof TableCellSchema>, WidgetTableCell>,
  Same<z.infer<typeof BasicRootSchema>, WidgetBasicRoot>,
] = [true, true, true, true, true, true, true, true];
void proofs;
